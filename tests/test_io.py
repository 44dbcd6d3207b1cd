"""medmix.data.io: round trips, spacing in array axis order, and every bad input as an InputError naming the file."""

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from medmix.data.io import LoadedImage, check_same_grid, load_mask, save_mask
from medmix.errors import InputError


def _labels_3d(shape=(5, 6, 7)):
    rng = np.random.default_rng(0)
    return rng.integers(0, 3, size=shape).astype(np.uint8)


# --- round trips -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_nifti_round_trip(tmp_path, ext):
    arr = _labels_3d()
    path = save_mask(tmp_path / f"m{ext}", arr, spacing=(0.8, 0.9, 2.5))
    img = load_mask(path)
    assert img.format == "nifti"
    assert img.array.shape == arr.shape
    np.testing.assert_array_equal(img.array, arr)
    assert img.spacing == (0.8, 0.9, 2.5)
    np.testing.assert_allclose(img.affine, np.diag([0.8, 0.9, 2.5, 1.0]), atol=1e-6)


def test_nifti_spacing_from_header_in_array_axis_order(tmp_path):
    arr = np.zeros((5, 6, 7), dtype=np.uint8)
    arr[1:3, 2:4, 3:6] = 1
    # A flipped first axis: the affine's diagonal is negative but zooms are positive, in array axis order.
    affine = np.diag([-0.8, 0.9, 2.5, 1.0])
    affine[:3, 3] = (10.0, -5.0, 3.0)
    path = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(arr, affine), str(path))
    img = load_mask(path)
    assert img.array.shape == (5, 6, 7)
    assert img.spacing == (0.8, 0.9, 2.5)
    np.testing.assert_allclose(img.affine, affine, atol=1e-6)
    np.testing.assert_array_equal(img.array, arr)


def test_nifti_2d_and_trailing_singleton(tmp_path):
    arr2 = np.zeros((8, 9), dtype=np.uint8)
    arr2[2:5, 3:7] = 1
    path = tmp_path / "slice.nii.gz"
    nib.save(nib.Nifti1Image(arr2[..., None], np.diag([0.5, 0.7, 3.0, 1.0])), str(path))
    img = load_mask(path)
    assert img.array.shape == (8, 9)
    assert img.spacing == (0.5, 0.7)


def test_npz_round_trip_with_spacing(tmp_path):
    arr = _labels_3d()
    path = save_mask(tmp_path / "m.npz", arr, spacing=(1.0, 2.0, 3.0))
    img = load_mask(path)
    assert img.format == "npz"
    np.testing.assert_array_equal(img.array, arr)
    assert img.spacing == (1.0, 2.0, 3.0)
    assert img.affine is None


def test_npz_key_selection(tmp_path):
    a, b = np.ones((3, 4), np.uint8), np.zeros((3, 4), np.uint8)
    only = tmp_path / "only.npz"
    np.savez(only, anything=a, spacing=np.array([0.5, 0.5]))
    assert load_mask(only).spacing == (0.5, 0.5)
    np.testing.assert_array_equal(load_mask(only).array, a)

    several = tmp_path / "several.npz"
    np.savez(several, image=b, seg=a)
    np.testing.assert_array_equal(load_mask(several).array, a)  # 'seg' is a known mask key
    np.testing.assert_array_equal(load_mask(several, key="image").array, b)
    with pytest.raises(InputError, match="no array named 'nope'"):
        load_mask(several, key="nope")

    ambiguous = tmp_path / "ambiguous.npz"
    np.savez(ambiguous, x=a, y=b)
    with pytest.raises(InputError, match="ambiguous.npz.*cannot tell which array"):
        load_mask(ambiguous)


def test_npy_round_trip(tmp_path):
    arr = _labels_3d()
    img = load_mask(save_mask(tmp_path / "m.npy", arr))
    np.testing.assert_array_equal(img.array, arr)
    assert img.spacing is None and img.format == "npy"


def test_png_round_trip_binary_and_labels(tmp_path):
    mask = np.zeros((10, 12), dtype=bool)
    mask[2:6, 3:9] = True
    path = save_mask(tmp_path / "bin.png", mask)
    assert set(np.unique(np.array(Image.open(path)))) == {0, 255}  # stored 0/255, read back as 0/1
    img = load_mask(path)
    assert img.format == "png" and img.spacing is None and img.affine is None
    np.testing.assert_array_equal(img.array, mask.astype(np.uint8))

    labels = np.zeros((10, 12), dtype=np.uint8)
    labels[1:4, 1:4] = 1
    labels[5:9, 5:9] = 2
    np.testing.assert_array_equal(load_mask(save_mask(tmp_path / "lab.png", labels)).array, labels)


def test_png_modes(tmp_path):
    ids = np.zeros((6, 6), dtype=np.uint8)
    ids[1:3, 1:3] = 1
    ids[3:5, 3:5] = 4
    pal = Image.frombytes("P", (6, 6), ids.tobytes())
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0] + [0] * (256 * 3 - 15))
    pal_path = tmp_path / "palette.png"
    pal.save(pal_path)
    assert Image.open(pal_path).mode == "P"
    np.testing.assert_array_equal(load_mask(pal_path).array, ids)  # palette ids kept

    grey01 = tmp_path / "grey01.png"
    Image.fromarray((ids > 0).astype(np.uint8)).save(grey01)
    np.testing.assert_array_equal(load_mask(grey01).array, (ids > 0).astype(np.uint8))

    grey_rgb = tmp_path / "grey_rgb.png"
    Image.fromarray(np.stack([(ids > 0) * 255] * 3, axis=-1).astype(np.uint8)).save(grey_rgb)
    np.testing.assert_array_equal(load_mask(grey_rgb).array, (ids > 0).astype(np.uint8))

    colour = np.zeros((6, 6, 3), dtype=np.uint8)
    colour[1:3, 1:3] = (255, 0, 0)
    colour_path = tmp_path / "colour.png"
    Image.fromarray(colour).save(colour_path)
    with pytest.raises(InputError, match="colour.png.*greyscale"):
        load_mask(colour_path)


# --- bad inputs ------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"gt file '.*missing\.nii\.gz': no such file"):
        load_mask(tmp_path / "missing.nii.gz", name="gt")


@pytest.mark.parametrize("name", ["empty.nii.gz", "empty.npz", "empty.png", "empty.npy"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(InputError, match=rf"{name}.*empty \(0 bytes\)"):
        load_mask(path)


def test_corrupt_nifti(tmp_path):
    path = tmp_path / "corrupt.nii.gz"
    path.write_bytes(np.random.default_rng(1).bytes(512))
    with pytest.raises(InputError, match=r"pred file '.*corrupt\.nii\.gz': cannot read it as NIfTI.*re-export"):
        load_mask(path, name="pred")


def test_truncated_nifti(tmp_path):
    good = save_mask(tmp_path / "good.nii.gz", _labels_3d((20, 20, 20)))
    path = tmp_path / "truncated.nii.gz"
    path.write_bytes(good.read_bytes()[:60])
    with pytest.raises(InputError, match="truncated.nii.gz"):
        load_mask(path)


@pytest.mark.parametrize("name", ["corrupt.npz", "corrupt.png", "corrupt.npy"])
def test_corrupt_other_formats(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"definitely not an array" * 10)
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        load_mask(path)


@pytest.mark.parametrize("name", ["mask.mha", "mask.nrrd", "mask.txt", "mask"])
def test_unsupported_extension(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"x")
    with pytest.raises(InputError, match=r"unsupported file type.*\.nii, \.nii\.gz, \.npz, \.npy, \.png"):
        load_mask(path)


def test_nan_in_npz(tmp_path):
    arr = np.zeros((4, 4, 4))
    arr[1, 1, 1] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, mask=arr)
    with pytest.raises(InputError, match=r"nan\.npz.*NaN"):
        load_mask(path)


def test_bad_npz_spacing(tmp_path):
    path = tmp_path / "sp.npz"
    np.savez(path, mask=np.zeros((4, 4, 4), np.uint8), spacing=np.array([1.0, 1.0]))
    with pytest.raises(InputError, match=r"sp\.npz.*spacing has 2 values"):
        load_mask(path)


def test_wrong_dimensionality(tmp_path):
    path = tmp_path / "vec.npy"
    np.save(path, np.zeros(10, np.uint8))
    with pytest.raises(InputError, match=r"vec\.npy.*2D or 3D"):
        load_mask(path)


# --- grids -----------------------------------------------------------------------------------------------------


def test_same_grid_ok(tmp_path):
    a = load_mask(save_mask(tmp_path / "a.nii.gz", _labels_3d(), spacing=(0.8, 0.9, 2.5)))
    b = load_mask(save_mask(tmp_path / "b.nii.gz", _labels_3d(), spacing=(0.8, 0.9, 2.5)))
    check_same_grid(a, b)


def test_shape_mismatch(tmp_path):
    a = load_mask(save_mask(tmp_path / "a.nii.gz", _labels_3d((5, 6, 7))))
    b = load_mask(save_mask(tmp_path / "b.nii.gz", _labels_3d((5, 6, 8))))
    with pytest.raises(InputError, match=r"a\.nii\.gz' has shape \(5, 6, 7\).*b\.nii\.gz' has shape \(5, 6, 8\).*[Rr]esample"):
        check_same_grid(a, b)


def test_affine_mismatch(tmp_path):
    shifted = np.diag([0.8, 0.9, 2.5, 1.0])
    shifted[0, 3] = 5.0
    a = load_mask(save_mask(tmp_path / "a.nii.gz", _labels_3d(), spacing=(0.8, 0.9, 2.5)))
    b = load_mask(save_mask(tmp_path / "b.nii.gz", _labels_3d(), affine=shifted))
    with pytest.raises(InputError) as info:
        check_same_grid(a, b)
    msg = str(info.value)
    assert "a.nii.gz" in msg and "b.nii.gz" in msg and "different affines" in msg
    assert "[0.8, 0, 0, 5]" in msg and "[0.8, 0, 0, 0]" in msg  # both affines printed
    assert "resample" in msg and "\n" not in msg
    check_same_grid(a, b, atol=10.0)  # within a loose tolerance


def test_spacing_mismatch_without_affine():
    a = LoadedImage(np.zeros((3, 3), np.uint8), (1.0, 1.0), None, "a.npz", "npz")
    b = LoadedImage(np.zeros((3, 3), np.uint8), (1.0, 2.0), None, "b.npz", "npz")
    with pytest.raises(InputError, match="spacing"):
        check_same_grid(a, b)


def test_save_png_refuses_3d(tmp_path):
    with pytest.raises(InputError, match="PNG holds 2D masks only"):
        save_mask(tmp_path / "x.png", np.zeros((2, 2, 2), np.uint8))
    assert not list(tmp_path.iterdir())  # no temp file left behind
