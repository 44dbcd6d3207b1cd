"""Drawing primitives of the phantom25 scenes: a canvas that paints deformed ellipsoids, capsule chains and
lesions (in mm, about the volume centre) into a mean-intensity image and a label map, then adds blur, texture,
bias field and noise; and the colour-fundus renderer. Pure numpy/scipy, driven by one seeded generator."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


class Canvas:
    """Paints structures (in mm, relative to the volume centre) into a mean-intensity image and a label map."""

    def __init__(self, scene, rng: np.random.Generator, background: float):
        self.scene = scene
        self.rng = rng
        self.shape = scene.shape
        self.spacing = np.asarray(scene.spacing, dtype=float)
        self.extent = np.asarray(self.shape, dtype=float) * self.spacing
        self.mean = np.full(self.shape, background, dtype=np.float32)
        self.label = np.zeros(self.shape, dtype=np.uint8)

    # voxel-centre coordinates (mm, centred) of a bounding box
    def _box(self, lo_mm, hi_mm):
        lo = np.floor((np.asarray(lo_mm) + self.extent / 2) / self.spacing - 0.5).astype(int)
        hi = np.ceil((np.asarray(hi_mm) + self.extent / 2) / self.spacing - 0.5).astype(int) + 1
        lo = np.clip(lo, 0, self.shape)
        hi = np.clip(hi, 0, self.shape)
        if np.any(hi <= lo):
            return None, None
        sl = tuple(slice(a, b) for a, b in zip(lo, hi))
        coords = [
            ((np.arange(a, b) + 0.5) * s - e / 2).reshape([-1 if i == j else 1 for j in range(len(self.shape))])
            for i, (a, b, s, e) in enumerate(zip(lo, hi, self.spacing, self.extent))
        ]
        return sl, coords

    def blob(self, centre, radii, *, roughness=0.1, angle_deg=0.0, harmonics=4):
        """Boolean mask of a deformed ellipsoid (ellipse in 2D): ρ ≤ 1 + δ(direction), δ a sum of a few random
        cosines of the direction. A radius ≥ 1000 mm along the last axis makes a cylinder (same cross-section in
        every slice), drawn in 2D and broadcast."""
        centre = np.asarray(centre, dtype=float)
        radii = np.asarray(radii, dtype=float)
        ndim = len(self.shape)
        cylinder = ndim == 3 and radii[2] >= 1000.0
        dims = 2 if cylinder else ndim
        # Draw the deformation first, so the random stream does not depend on the grid.
        waves = []
        for _ in range(harmonics if roughness > 0 else 0):
            w = self.rng.normal(size=ndim)[:dims]
            w *= self.rng.uniform(0.6, 1.6) / (np.linalg.norm(w) or 1.0)
            phase = self.rng.uniform(0, 2 * np.pi)
            amp = self.rng.uniform(0.5, 1.0) * roughness / math.sqrt(harmonics) * 1.5
            waves.append((w, phase, amp))
        bound = sum(a for _, _, a in waves)
        reach = radii[:dims] * (1 + bound) + self.spacing[:dims]
        if angle_deg:
            reach[0] = reach[1] = max(reach[0], reach[1])
        mask = np.zeros(self.shape, dtype=bool)
        lo = np.concatenate([centre[:dims] - reach, [-np.inf] * (ndim - dims)])
        hi = np.concatenate([centre[:dims] + reach, [np.inf] * (ndim - dims)])
        sl, coords = self._box(np.maximum(lo, -self.extent), np.minimum(hi, self.extent))
        if sl is None:
            return mask
        coords = coords[:dims]
        if cylinder:
            coords = [c.reshape(c.shape[:2]) for c in coords]
        d = [c - m for c, m in zip(coords, centre)]
        if angle_deg:
            a = math.radians(angle_deg)
            d[0], d[1] = d[0] * math.cos(a) + d[1] * math.sin(a), -d[0] * math.sin(a) + d[1] * math.cos(a)
        u = np.broadcast_arrays(*[di / ri for di, ri in zip(d, radii)])
        rho = np.sqrt(sum(ui * ui for ui in u))
        inside = rho <= 1.0 - bound
        if waves:
            shell = (rho <= 1.0 + bound) & ~inside
            r_shell = np.maximum(rho[shell], 1e-9)
            dirs = [ui[shell] / r_shell for ui in u]
            delta = np.zeros_like(r_shell)
            for w, phase, amp in waves:
                delta += amp * np.cos(2 * np.pi * sum(wi * di for wi, di in zip(w, dirs)) + phase)
            inside[shell] = r_shell <= 1.0 + delta
        if cylinder:
            inside = inside[:, :, None]
        mask[sl] = np.broadcast_to(inside, mask[sl].shape)
        return mask

    def tube(self, points, radius):
        """Boolean mask of capsules of `radius` mm joining consecutive `points` (mm)."""
        points = [np.asarray(p, dtype=float) for p in points]
        mask = np.zeros(self.shape, dtype=bool)
        for p, q in zip(points, points[1:]):
            lo = np.minimum(p, q) - radius - self.spacing
            hi = np.maximum(p, q) + radius + self.spacing
            sl, coords = self._box(lo, hi)
            if sl is None:
                continue
            v = q - p
            vv = float(v @ v) or 1e-9
            t = sum((c - pi) * vi for c, pi, vi in zip(coords, p, v)) / vv
            t = np.clip(t, 0.0, 1.0)
            dist2 = sum((c - (pi + t * vi)) ** 2 for c, pi, vi in zip(coords, p, v))
            mask[sl] |= dist2 <= radius * radius
        return mask

    def paint(self, mask, value, label=None, sd=0.0):
        """Set the mean intensity (value ± a per-structure offset of SD `sd`) and optionally the label."""
        if sd:
            value = value + self.rng.normal(0.0, sd)
        self.mean[mask] = value
        if label is not None:
            self.label[mask] = label
        return mask

    def jitter(self, centre, mm):
        return np.asarray(centre, dtype=float) + self.rng.uniform(-mm, mm, size=len(centre))

    def scale(self, radii, lo=0.88, hi=1.12):
        return np.asarray(radii, dtype=float) * self.rng.uniform(lo, hi, size=len(radii))

    def finish(self, noise_sd, texture_sd=0.0, blur_vox=0.6, bias=0.0, clip=None):
        from scipy import ndimage

        image = self.mean
        if blur_vox:
            image = ndimage.gaussian_filter(image, blur_vox, mode="nearest")
        if texture_sd:
            image = image + texture_sd * smooth_field(self.rng, self.shape, 6)
        if bias:
            image = image * (1.0 + bias * smooth_field(self.rng, self.shape, 3))
        image = image + self.rng.normal(0.0, noise_sd, size=self.shape).astype(np.float32)
        if clip is not None:
            image = np.clip(image, *clip)
        return image.astype(np.float32), self.label


def smooth_field(rng: np.random.Generator, shape: Sequence[int], cells: int) -> np.ndarray:
    """Smooth random field of unit SD: a coarse Gaussian grid (`cells` per axis at most) linearly interpolated to
    `shape` (separable interpolation matrices, so it costs far less than ndimage.zoom)."""
    coarse_shape = tuple(max(2, min(cells, n // 4 + 1)) for n in shape)
    field_ = rng.standard_normal(coarse_shape)
    for axis, (n, c) in enumerate(zip(shape, coarse_shape)):
        pos = np.linspace(0.0, c - 1.0, n)
        i0 = np.minimum(np.floor(pos).astype(int), c - 2)
        t = pos - i0
        weights = np.zeros((n, c))
        weights[np.arange(n), i0] = 1.0 - t
        weights[np.arange(n), i0 + 1] = t
        field_ = np.moveaxis(np.tensordot(weights, field_, axes=([1], [axis])), 0, axis)
    sd = float(field_.std()) or 1.0
    return (field_ / sd).astype(np.float32)


def sphere_points(rng, centre, spread):
    return np.asarray(centre, dtype=float) + rng.uniform(-1, 1, size=len(centre)) * np.asarray(spread, dtype=float)


def render_fundus(shape: Sequence[int], rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
    """A colour fundus image of `shape` (h, w): (float32 RGB 0–255, uint8 labels 1 disc rim, 2 cup)."""
    h, w = shape
    rows = np.arange(h, dtype=np.float64)[:, None]
    cols = np.arange(w, dtype=np.float64)[None, :]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    fov_r = 0.47 * h
    r_norm = np.sqrt((rows - cy) ** 2 + (cols - cx) ** 2) / fov_r
    fov = r_norm <= 1.0
    base = np.array([185.0, 85.0, 40.0]) * rng.uniform(0.9, 1.1, size=3)
    vignette = np.clip(1.0 - 0.45 * r_norm ** 2, 0, 1)
    image = base[None, None, :] * vignette[..., None]
    # optic disc: left or right of centre (left/right eye), vertical ellipse
    side = -1 if k % 2 else 1
    dy, dx = cy + rng.uniform(-6, 6), cx + side * rng.uniform(16, 22)
    ry, rx = rng.uniform(11, 14), rng.uniform(9.5, 12.5)
    angle = rng.uniform(-0.3, 0.3)
    yy, xx = rows - dy, cols - dx
    u = (xx * math.cos(angle) + yy * math.sin(angle)) / rx
    v = (-xx * math.sin(angle) + yy * math.cos(angle)) / ry
    theta = np.arctan2(v, u)
    wobble = 1 + 0.05 * np.cos(2 * theta + rng.uniform(0, 2 * np.pi)) + 0.03 * np.cos(3 * theta + rng.uniform(0, 6))
    rho = np.sqrt(u * u + v * v)
    disc = rho <= wobble
    cup_ratio = rng.uniform(0.35, 0.7)
    cup_centre = (rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1))
    rho_cup = np.sqrt((u - cup_centre[0]) ** 2 + (v - cup_centre[1]) ** 2) / cup_ratio
    cup = (rho_cup <= 1 + 0.06 * np.cos(2 * theta)) & disc
    disc_colour = np.array([232.0, 165.0, 100.0]) * rng.uniform(0.93, 1.05, size=3)
    cup_colour = np.array([250.0, 215.0, 165.0]) * rng.uniform(0.95, 1.02, size=3)
    image[disc] = disc_colour
    image[cup] = cup_colour
    # vessels: dark red curves leaving the disc
    for _ in range(5):
        a0 = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(30, 55)
        bend = rng.uniform(-0.02, 0.02)
        t = np.linspace(0, length, 80)
        a = a0 + bend * t
        py, px = dy + np.sin(a) * t, dx + np.cos(a) * t
        vessel = np.zeros((h, w), dtype=bool)
        iy, ix = np.round(py).astype(int), np.round(px).astype(int)
        ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        vessel[iy[ok], ix[ok]] = True
        vessel |= np.roll(vessel, 1, axis=int(rng.integers(0, 2)))
        image[vessel & ~cup] = image[vessel & ~cup] * 0.55 + np.array([120.0, 25.0, 20.0]) * 0.45
    from scipy import ndimage

    image = ndimage.gaussian_filter(image, (0.7, 0.7, 0))
    image = image + rng.normal(0, 5.0, size=image.shape)
    image[~fov] = 0.0
    image = np.clip(np.round(image), 0, 255).astype(np.float32)
    label = np.zeros((h, w), dtype=np.uint8)
    label[disc & fov] = 1
    label[cup & fov] = 2
    return image, label
