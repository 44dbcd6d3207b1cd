"""Dataset converters: each release layout is rebuilt in miniature under tmp_path (tiny volumes, official names,
the junk files and folder quirks of the real downloads), converted, and the harness files are checked voxel by
voxel: shapes, label ids, affines, dataset.json, sorted official case ids, idempotent re-runs and layout errors.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medmix.data.prepare import (CONVERTERS, parse_options, prepare_brats2021, prepare_dataset, prepare_dofe_fundus,
                                 prepare_flare22, prepare_freesurfer, prepare_generic_pairs, prepare_kits, prepare_lits,
                                 prepare_msd_task02, prepare_msd_task05, prepare_msd_task06, prepare_msd_task07,
                                 prepare_nasalseg, prepare_promise12, prepare_rat, prepare_refuge, prepare_topcow,
                                 read_metaimage, read_nrrd)
from medmix.errors import InputError, UnknownNameError

# ------------------------------------------------------------------------------------------------------------
# Builders

AFFINE = np.array([[-0.8, 0, 0, 120.0], [0, -0.8, 0, 95.0], [0, 0, 2.5, -300.0], [0, 0, 0, 1]])
SHAPE = (8, 8, 4)


def ramp(shape=SHAPE, seed=0, dtype=np.int16) -> np.ndarray:
    """A volume whose every voxel differs (so any transposition or flip is caught)."""
    return (np.arange(int(np.prod(shape))).reshape(shape) * 3 + seed).astype(dtype)


def label_map(ids, shape=SHAPE) -> np.ndarray:
    """One small block per label id along axis 0."""
    lab = np.zeros(shape, dtype=np.uint8)
    for k, i in enumerate(ids):
        lab[k % shape[0], 1:3, k % shape[2]] = i
    return lab


def save_nii(path: Path, array, affine=AFFINE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(array), affine), str(path))
    return path


def load_out(root: Path, dataset: str, case: str):
    img = nib.load(str(root / dataset / "images" / f"{case}.nii.gz"))
    lab = nib.load(str(root / dataset / "labels" / f"{case}.nii.gz"))
    return np.asanyarray(img.dataobj), np.asanyarray(lab.dataobj), img, lab


def meta(root: Path, dataset: str) -> dict:
    return json.loads((root / dataset / "dataset.json").read_text())


def mtimes(root: Path, dataset: str) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (root / dataset).rglob("*.nii.gz")}


def check_rerun_is_idempotent(fn, src, dst, dataset, **kw):
    before = mtimes(dst, dataset)
    report = fn(src, dst, **kw)
    assert report.written == [] and report.skipped == sorted(report.skipped) and report.skipped
    assert mtimes(dst, dataset) == before


def check_layout_error(fn, tmp_path: Path, *snippets: str, **kw):
    """Empty folder and missing folder both raise an InputError that shows the expected tree and the source."""
    empty = tmp_path / "empty_download"
    empty.mkdir(exist_ok=True)
    with pytest.raises(InputError) as err:
        fn(empty, tmp_path / "out_err", **kw)
    text = str(err.value)
    assert "Expected the official release layout" in text and "Download the release from" in text
    for s in (*snippets, fn.spec.url.split()[0]):
        assert s in text, (s, text)
    with pytest.raises(InputError, match="does not exist"):
        fn(tmp_path / "no_such_folder", tmp_path / "out_err", **kw)


def write_mhd(path: Path, xyz: np.ndarray, *, spacing, offset=(0.0, 0.0, 0.0), matrix=None, etype="MET_SHORT",
              msb=False, compressed=False, local=False) -> Path:
    """A MetaImage written by hand: voxel (x, y, z) of the file holds xyz[x, y, z] (x fastest on disk)."""
    dtype = {"MET_SHORT": "i2", "MET_UCHAR": "u1", "MET_USHORT": "u2", "MET_FLOAT": "f4"}[etype]
    data = np.ascontiguousarray(xyz.transpose(2, 1, 0)).astype(np.dtype(dtype).newbyteorder(">" if msb else "<"))
    payload = data.tobytes()
    if compressed:
        payload = zlib.compress(payload)
    matrix = matrix if matrix is not None else (1, 0, 0, 0, 1, 0, 0, 0, 1)
    lines = [
        "ObjectType = Image", "NDims = 3", "BinaryData = True", f"BinaryDataByteOrderMSB = {msb}",
        f"CompressedData = {compressed}",
        *( [f"CompressedDataSize = {len(payload)}"] if compressed else []),
        "TransformMatrix = " + " ".join(str(v) for v in matrix), "Offset = " + " ".join(str(v) for v in offset),
        "AnatomicalOrientation = RAI", "ElementSpacing = " + " ".join(str(v) for v in spacing),
        "DimSize = " + " ".join(str(v) for v in xyz.shape), f"ElementType = {etype}",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    if local:
        lines.append("ElementDataFile = LOCAL")
        path.write_bytes(("\n".join(lines) + "\n").encode() + payload)
    else:
        raw = path.with_suffix(".zraw" if compressed else ".raw")
        lines.append(f"ElementDataFile = {raw.name}")
        path.write_text("\n".join(lines) + "\n")
        raw.write_bytes(payload)
    return path


def write_nrrd(path: Path, xyz: np.ndarray, *, directions, origin, space="left-posterior-superior",
               encoding="gzip", endian="little") -> Path:
    """An NRRD written by hand with attached data: sizes fastest first, so voxel (i, j, k) is xyz[i, j, k]."""
    names = {"i2": "short", "u1": "uchar", "f4": "float"}
    dt = xyz.dtype.str[1:]
    data = np.ascontiguousarray(xyz.transpose(2, 1, 0)).astype(xyz.dtype.newbyteorder("<" if endian == "little"
                                                                                       else ">"))
    payload = gzip.compress(data.tobytes()) if encoding == "gzip" else data.tobytes()
    header = [
        "NRRD0004", "# Complete NRRD file format specification at:", f"type: {names[dt]}", "dimension: 3",
        f"space: {space}", "sizes: " + " ".join(str(s) for s in xyz.shape),
        "space directions: " + " ".join("(" + ",".join(str(v) for v in d) + ")" for d in directions),
        "kinds: domain domain domain", f"endian: {endian}", f"encoding: {encoding}",
        "space origin: (" + ",".join(str(v) for v in origin) + ")",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(header) + "\n\n").encode() + payload)
    return path


# ------------------------------------------------------------------------------------------------------------
# Registry and API


def test_registry_names_and_unknown_name():
    assert set(CONVERTERS.names()) == {
        "flare22", "promise12", "msd_task02", "msd_task05", "msd_task06", "msd_task07", "brats2021", "kits", "lits",
        "topcow", "nasalseg", "refuge", "dofe_fundus", "freesurfer", "rat", "generic_pairs",
    }
    for name in CONVERTERS.names():
        fn = CONVERTERS.get(name)
        assert fn.spec.name == name and fn.spec.layout and fn.spec.url and fn.__doc__.strip()
    with pytest.raises(UnknownNameError, match="Did you mean 'flare22'"):
        prepare_dataset("flare", "x", "y")


def test_prepare_dataset_refuses_unknown_option(tmp_path):
    with pytest.raises(InputError, match="no option 'modalty'.*Did you mean 'modality'"):
        prepare_dataset("brats2021", tmp_path, tmp_path / "out", modalty="t1")


def test_parse_options_types():
    assert parse_options("brats2021", ["modality=t1ce"]) == {"modality": "t1ce"}
    assert parse_options("msd_task05", ["channel=1"]) == {"channel": 1}
    assert parse_options("generic_pairs", ["labels=1=liver,2=right kidney", "zero_pad=yes", "keep_labels=2,1"]) == {
        "labels": {1: "liver", 2: "right kidney"}, "zero_pad": True, "keep_labels": [1, 2]}
    with pytest.raises(InputError, match="key=value"):
        parse_options("kits", ["overwrite"])


def test_archive_and_dst_inside_src_are_refused(tmp_path):
    archive = tmp_path / "Task02_Heart.tar"
    archive.write_bytes(b"not really")
    with pytest.raises(InputError, match="archive; extract it first"):
        prepare_msd_task02(archive, tmp_path / "out")
    (tmp_path / "rel").mkdir()
    with pytest.raises(InputError, match="lies inside --src"):
        prepare_flare22(tmp_path / "rel", tmp_path / "rel" / "out")


# ------------------------------------------------------------------------------------------------------------
# FLARE22


def build_flare22(root: Path, n=3) -> dict[str, np.ndarray]:
    images = {}
    for i in range(1, n + 1):
        cid = f"FLARE22_Tr_{i:04d}"
        images[cid] = ramp(seed=i)
        save_nii(root / "FLARE22Train" / "images" / f"{cid}_0000.nii.gz", images[cid])
        save_nii(root / "FLARE22Train" / "labels" / f"{cid}.nii.gz", label_map([1, 2, 3, 4, 13][: 2 + i]))
    save_nii(root / "FLARE22Train" / "images" / "FLARE22_Tr_0099_0000.nii.gz", ramp())  # no label
    save_nii(root / "Unlabeled" / "Case_00001_0000.nii.gz", ramp())  # unlabelled part of the release
    return images


def test_flare22(tmp_path):
    src, dst = tmp_path / "dl", tmp_path / "root"
    images = build_flare22(src)
    seen = []
    report = prepare_flare22(src, dst, progress=lambda i, n, c: seen.append((i, n, c)))
    assert report.written == ["FLARE22_Tr_0001", "FLARE22_Tr_0002", "FLARE22_Tr_0003"] and report.ok
    assert seen == [(1, 3, "FLARE22_Tr_0001"), (2, 3, "FLARE22_Tr_0002"), (3, 3, "FLARE22_Tr_0003")]
    assert any("1 FLARE22_Tr_*_0000 images without a label" in w for w in report.warnings)
    img, lab, nimg, nlab = load_out(dst, "flare22", "FLARE22_Tr_0003")
    assert img.shape == SHAPE and img.dtype == np.int16 and np.array_equal(img, images["FLARE22_Tr_0003"])
    assert np.array_equal(lab, label_map([1, 2, 3, 4, 13])) and lab.dtype == np.uint8
    assert np.allclose(nimg.affine, AFFINE) and np.allclose(nlab.affine, AFFINE)
    assert nimg.header.get_zooms() == pytest.approx((0.8, 0.8, 2.5))
    m = meta(dst, "flare22")
    assert m["cases"] == ["FLARE22_Tr_0001", "FLARE22_Tr_0002", "FLARE22_Tr_0003"]
    assert len(m["labels"]) == 13 and m["labels"]["1"] == "liver" and m["labels"]["13"] == "left kidney"
    assert m["labels"]["2"] == "right kidney" and m["labels"]["3"] == "spleen" and m["labels"]["4"] == "pancreas"
    assert m["modality"] == "CT" and m["channels"] == "grey" and m["converter"] == "flare22"
    assert m["case_sources"]["FLARE22_Tr_0001"] == {"image": "FLARE22Train/images/FLARE22_Tr_0001_0000.nii.gz",
                                                    "label": "FLARE22Train/labels/FLARE22_Tr_0001.nii.gz"}
    assert m["case_info"]["FLARE22_Tr_0001"] == {"shape": [8, 8, 4], "spacing_mm": [0.8, 0.8, 2.5],
                                                 "axcodes": "LPS", "axial_axis": 2}
    assert m["suggested_targets"]["left_kidney"] == [13]
    check_rerun_is_idempotent(prepare_flare22, src, dst, "flare22")
    check_layout_error(prepare_flare22, tmp_path, "FLARE22_Tr_0001_0000.nii.gz", "labels/")


def test_overwrite_rewrites_and_failed_case_does_not_stop_the_others(tmp_path):
    src, dst = tmp_path / "dl", tmp_path / "root"
    build_flare22(src)
    prepare_flare22(src, dst)
    save_nii(src / "FLARE22Train" / "labels" / "FLARE22_Tr_0002.nii.gz", np.zeros((8, 8, 5), np.uint8))
    report = prepare_flare22(src, dst, overwrite=True)
    assert report.written == ["FLARE22_Tr_0001", "FLARE22_Tr_0003"] and report.skipped == []
    assert list(report.failed) == ["FLARE22_Tr_0002"] and "shape" in report.failed["FLARE22_Tr_0002"]
    assert "1 failed" in report.summary()
    assert any("FLARE22_Tr_0002 not converted" in w for w in report.warnings)


# ------------------------------------------------------------------------------------------------------------
# MetaImage / PROMISE12


def promise_volume(seed=0) -> np.ndarray:
    """(x, y, z) = (5, 4, 3) with value 100x + 10y + z (+ seed): the value names the voxel."""
    x, y, z = np.meshgrid(np.arange(5), np.arange(4), np.arange(3), indexing="ij")
    return (100 * x + 10 * y + z + seed).astype(np.int16)


def test_metaimage_reader_axis_order_spacing_and_geometry(tmp_path):
    vol = promise_volume()
    p = write_mhd(tmp_path / "a.mhd", vol, spacing=(0.6, 0.7, 3.6), offset=(10.0, 20.0, 30.0))
    mi = read_metaimage(p)
    assert mi.array.shape == (5, 4, 3) and mi.array[3, 2, 1] == 321 and np.array_equal(mi.array, vol)
    assert mi.spacing == (0.6, 0.7, 3.6)
    # LPS (MetaImage) → RAS (NIfTI): x and y negated.
    assert np.allclose(mi.affine, [[-0.6, 0, 0, -10], [0, -0.7, 0, -20], [0, 0, 3.6, 30], [0, 0, 0, 1]])
    # Big-endian, zlib-compressed single-file .mha with a rotated direction matrix.
    q = write_mhd(tmp_path / "b.mha", vol.astype(np.uint16), spacing=(0.5, 1.0, 2.0), etype="MET_USHORT", msb=True,
                  compressed=True, local=True, matrix=(0, -1, 0, 1, 0, 0, 0, 0, 1))
    mb = read_metaimage(q)
    assert mb.array.dtype == np.uint16 and np.array_equal(mb.array, vol)
    # axis 0 points along world −y (LPS) = +y (RAS), axis 1 along world +x (LPS) = −x (RAS).
    assert np.allclose(mb.affine[:3, :3], [[0, -1.0, 0], [0.5, 0, 0], [0, 0, 2.0]])


def test_metaimage_reader_errors(tmp_path):
    p = write_mhd(tmp_path / "a.mhd", promise_volume(), spacing=(1, 1, 1))
    p.with_suffix(".raw").write_bytes(b"\0" * 10)
    with pytest.raises(InputError, match="truncated"):
        read_metaimage(p)
    p.with_suffix(".raw").unlink()
    with pytest.raises(InputError, match="does not exist"):
        read_metaimage(p)
    bad = tmp_path / "c.mhd"
    bad.write_text("NDims = 3\nDimSize = 2 2 2\nElementType = MET_SHORT\nCompressedData = True\n"
                   "ElementDataFile = c.zraw\n")
    (tmp_path / "c.zraw").write_bytes(b"definitely not zlib")
    with pytest.raises(InputError, match="does not inflate"):
        read_metaimage(bad)


def test_metaimage_and_nrrd_match_simpleitk(tmp_path):
    """Cross-check against ITK: same voxels (transposed to nibabel order) and the affine ITK writes to NIfTI."""
    sitk = pytest.importorskip("SimpleITK")
    rng = np.random.default_rng(0)
    zyx = rng.integers(-1000, 1000, size=(3, 4, 5)).astype(np.int16)
    img = sitk.GetImageFromArray(zyx)
    img.SetSpacing((0.6, 0.9, 3.0))
    img.SetOrigin((12.0, -7.0, 40.0))
    img.SetDirection((0, 1, 0, -1, 0, 0, 0, 0, 1))
    sitk.WriteImage(img, str(tmp_path / "ref.nii.gz"))
    ref = nib.load(str(tmp_path / "ref.nii.gz"))
    for name, reader in (("x.mhd", read_metaimage), ("x.mha", read_metaimage), ("x.nrrd", read_nrrd)):
        sitk.WriteImage(img, str(tmp_path / name), True)
        ours = reader(tmp_path / name)
        assert np.array_equal(ours.array, np.asanyarray(ref.dataobj)), name
        assert np.array_equal(ours.array, zyx.transpose(2, 1, 0)), name
        assert np.allclose(ours.affine, ref.affine, atol=1e-6), name


def build_promise12(root: Path) -> None:
    for part, cases in (("TrainingData_Part1", (0, 1)), ("TrainingData_Part2", (10,))):
        for c in cases:
            write_mhd(root / part / f"Case{c:02d}.mhd", promise_volume(seed=c), spacing=(0.6, 0.7, 3.6),
                      offset=(10.0, 20.0, 30.0))
            seg = np.zeros((5, 4, 3), np.uint8)
            seg[3, 2, 1] = 255 if c == 10 else 1
            write_mhd(root / part / f"Case{c:02d}_segmentation.mhd", seg, spacing=(0.6, 0.7, 3.6),
                      offset=(10.0, 20.0, 30.0), etype="MET_UCHAR", compressed=(c == 1))
    write_mhd(root / "TestData" / "Case00.mhd", promise_volume(), spacing=(1, 1, 1))  # same name, no label


def test_promise12_metaimage_voxels_land_at_xyz(tmp_path):
    src, dst = tmp_path / "dl", tmp_path / "root"
    build_promise12(src)
    report = prepare_promise12(src, dst)
    assert report.written == ["Case00", "Case01", "Case10"]
    assert any("test data" in w for w in report.warnings)
    assert any("Case10" in w and "0/255" in w for w in report.warnings)
    for cid, seed in (("Case00", 0), ("Case01", 1), ("Case10", 10)):
        img, lab, nimg, _ = load_out(dst, "promise12", cid)
        assert img.shape == (5, 4, 3) and img[3, 2, 1] == 321 + seed and img[4, 0, 2] == 402 + seed
        assert np.array_equal(np.argwhere(lab), [[3, 2, 1]]) and lab.max() == 1
        assert nimg.header.get_zooms() == pytest.approx((0.6, 0.7, 3.6))
        assert np.allclose(nimg.affine, [[-0.6, 0, 0, -10], [0, -0.7, 0, -20], [0, 0, 3.6, 30], [0, 0, 0, 1]])
    m = meta(dst, "promise12")
    assert m["labels"] == {"1": "prostate"} and m["cases"] == ["Case00", "Case01", "Case10"]
    assert m["case_sources"]["Case10"]["image"] == "TrainingData_Part2/Case10.mhd"
    check_rerun_is_idempotent(prepare_promise12, src, dst, "promise12")
    check_layout_error(prepare_promise12, tmp_path, "Case00_segmentation.mhd", "Case00.raw")


# ------------------------------------------------------------------------------------------------------------
# MSD


def build_msd(root: Path, task: str, stem: str, ids, labels: dict, modality: dict, image_4d=False) -> dict:
    base = root / task
    images = {}
    for i in ids:
        cid = f"{stem}_{i}"
        img = np.stack([ramp(seed=int(i)), ramp(seed=1000 + int(i))], axis=-1) if image_4d else ramp(seed=int(i))
        images[cid] = img
        save_nii(base / "imagesTr" / f"{cid}.nii.gz", img)
        save_nii(base / "labelsTr" / f"{cid}.nii.gz", label_map(sorted(int(k) for k in labels if k != "0")))
        # macOS resource forks shipped in the MSD tarballs
        (base / "imagesTr" / f"._{cid}.nii.gz").write_bytes(b"\x00\x05\x16\x07junk")
        (base / "labelsTr" / f"._{cid}.nii.gz").write_bytes(b"\x00\x05\x16\x07junk")
    save_nii(base / "imagesTs" / f"{stem}_999.nii.gz", ramp())
    (base / "dataset.json").write_text(json.dumps({
        "name": task.split("_")[1], "modality": modality, "labels": labels,
        "training": [{"image": f"./imagesTr/{stem}_{i}.nii.gz", "label": f"./labelsTr/{stem}_{i}.nii.gz"}
                     for i in ids],
        "test": [f"./imagesTs/{stem}_999.nii.gz"],
    }))
    return images


def test_msd_task02_heart_skips_macos_junk(tmp_path):
    src, dst = tmp_path / "dl", tmp_path / "root"
    images = build_msd(src, "Task02_Heart", "la", ["003", "004", "007"], {"0": "background", "1": "left atrium"},
                       {"0": "MRI"})
    for sub in ("imagesTr", "labelsTr"):  # an unzip tool's resource-fork folder next to the task
        (src / "__MACOSX" / "Task02_Heart" / sub).mkdir(parents=True)
        (src / "__MACOSX" / "Task02_Heart" / sub / "._la_003.nii.gz").write_bytes(b"junk")
    report = prepare_msd_task02(src, dst)  # parent of Task02_Heart works
    assert report.written == ["la_003", "la_004", "la_007"] and report.ok and not report.warnings
    img, lab, nimg, _ = load_out(dst, "msd_task02", "la_004")
    assert np.array_equal(img, images["la_004"]) and set(np.unique(lab)) == {0, 1}
    assert np.allclose(nimg.affine, AFFINE)
    m = meta(dst, "msd_task02")
    assert m["labels"] == {"1": "left atrium"} and m["modality"] == "MRI" and m["msd_task"] == "Task02_Heart"
    check_rerun_is_idempotent(prepare_msd_task02, src / "Task02_Heart", dst, "msd_task02")
    check_layout_error(prepare_msd_task02, tmp_path, "imagesTr/", "la_003.nii.gz", "dataset.json")


def test_msd_task05_prostate_takes_t2_channel_and_refuses_mixing(tmp_path):
    src, dst = tmp_path / "dl", tmp_path / "root"
    images = build_msd(src, "Task05_Prostate", "prostate", ["00", "01", "16"],
                       {"0": "background", "1": "PZ", "2": "TZ"}, {"0": "T2", "1": "ADC"}, image_4d=True)
    report = prepare_msd_task05(src, dst)
    assert report.written == ["prostate_00", "prostate_01", "prostate_16"]
    img, lab, _, _ = load_out(dst, "msd_task05", "prostate_16")
    assert img.shape == SHAPE and np.array_equal(img, images["prostate_16"][..., 0])
    assert set(np.unique(lab)) == {0, 1, 2}
    m = meta(dst, "msd_task05")
    assert m["labels"] == {"1": "PZ", "2": "TZ"} and m["modality"] == "MRI (T2)"
    assert m["suggested_targets"]["prostate"] == [1, 2]
    with pytest.raises(InputError, match="prepared with options"):
        prepare_msd_task05(src, dst, channel=1)
    report = prepare_msd_task05(src, dst, channel=1, overwrite=True)
    assert len(report.written) == 3
    img, _, _, _ = load_out(dst, "msd_task05", "prostate_16")
    assert np.array_equal(img, images["prostate_16"][..., 1]) and meta(dst, "msd_task05")["modality"] == "MRI (ADC)"


@pytest.mark.parametrize("fn,task,stem,labels,dataset", [
    (prepare_msd_task06, "Task06_Lung", "lung", {"0": "background", "1": "cancer"}, "msd_task06"),
    (prepare_msd_task07, "Task07_Pancreas", "pancreas", {"0": "background", "1": "pancreas", "2": "cancer"},
     "msd_task07"),
])
def test_msd_ct_tasks(tmp_path, fn, task, stem, labels, dataset):
    src, dst = tmp_path / "dl", tmp_path / "root"
    build_msd(src, task, stem, ["001", "004", "010"], labels, {"0": "CT"})
    report = fn(src / task, dst)
    assert report.written == [f"{stem}_001", f"{stem}_004", f"{stem}_010"]
    m = meta(dst, dataset)
    assert m["labels"] == {k: v for k, v in labels.items() if k != "0"} and m["modality"] == "CT"
    _, lab, _, _ = load_out(dst, dataset, f"{stem}_004")
    assert set(np.unique(lab)) == {0, *(int(k) for k in labels if k != "0")}
    check_layout_error(fn, tmp_path, task, f"{stem}_001.nii.gz", "labelsTr/")


def test_msd_wrong_task_is_named(tmp_path):
    build_msd(tmp_path / "dl", "Task07_Pancreas", "pancreas", ["001"], {"0": "background", "1": "pancreas"},
              {"0": "CT"})
    (tmp_path / "dl" / "Task07_Pancreas").rename(tmp_path / "dl" / "Task06_Lung")
    with pytest.raises(InputError, match="describes the MSD task 'Pancreas', not 'Lung'"):
        prepare_msd_task06(tmp_path / "dl" / "Task06_Lung", tmp_path / "root")


# ------------------------------------------------------------------------------------------------------------
# BraTS 2021


SEQUENCES = ("flair", "t1", "t1ce", "t2")


def build_brats(src: Path, ids=(0, 2, 5), skip: dict | None = None) -> dict:
    """Case folders of four sequences + seg (float, as released); `skip` = {case number: sequence left out}."""
    vols = {}
    for n in ids:
        cid = f"BraTS2021_{n:05d}"
        for k, seq in enumerate(SEQUENCES):
            if (skip or {}).get(n) == seq:
                continue
            vols[cid, seq] = ramp(seed=100 * k + n)
            save_nii(src / cid / f"{cid}_{seq}.nii.gz", vols[cid, seq])
        save_nii(src / cid / f"{cid}_seg.nii.gz", label_map([1, 2, 4]).astype(np.float32))
    return vols


def test_brats2021_all_sequences_as_channels(tmp_path):
    src, dst = tmp_path / "dl" / "RSNA_ASNR_MICCAI_BraTS2021_TrainingData_16July2021", tmp_path / "root"
    vols = build_brats(src, ids=(0, 2, 5, 7), skip={7: "t1ce"})
    save_nii(src / "BraTS2021_00009" / "BraTS2021_00009_flair.nii.gz", ramp())  # validation case, no seg
    build_brats(src, ids=(11,))
    save_nii(src / "BraTS2021_00011" / "BraTS2021_00011_t2.nii.gz", ramp((8, 8, 5)))  # off the seg's grid
    # Channel order = a sorted glob of the case folder's sequence files (what MedSAMix's channel ids follow).
    names = sorted(p.name for p in (src / "BraTS2021_00000").glob("*.nii.gz") if "_seg" not in p.name)
    assert [n[len("BraTS2021_00000_"):-len(".nii.gz")] for n in names] == list(SEQUENCES)

    report = prepare_brats2021(tmp_path / "dl", dst)
    assert report.written == ["BraTS2021_00000", "BraTS2021_00002", "BraTS2021_00005"]
    assert sorted(report.failed) == ["BraTS2021_00007", "BraTS2021_00011"]
    assert "missing BraTS2021_00007_t1ce.nii.gz" in report.failed["BraTS2021_00007"]
    assert "BraTS2021_00011_t2.nii.gz has shape (8, 8, 5)" in report.failed["BraTS2021_00011"]
    assert any("without a _seg file" in w for w in report.warnings)
    img, lab, nimg, nlab = load_out(dst, "brats2021", "BraTS2021_00002")
    assert img.shape == (*SHAPE, 4) and img.dtype == np.int16
    for k, seq in enumerate(SEQUENCES):
        assert np.array_equal(img[..., k], vols["BraTS2021_00002", seq]), seq
    assert lab.shape == SHAPE and set(np.unique(lab)) == {0, 1, 2, 4} and lab.dtype == np.uint8
    assert np.allclose(nimg.affine, AFFINE) and np.allclose(nlab.affine, AFFINE)
    m = meta(dst, "brats2021")
    assert m["channels"] == "multi" and m["channel_names"] == ["flair", "t1", "t1ce", "t2"]
    assert m["modality"] == "MRI (FLAIR, T1, T1ce, T2)" and m["prepare_options"] == {"modality": "all"}
    assert m["cases"] == ["BraTS2021_00000", "BraTS2021_00002", "BraTS2021_00005"]
    assert m["case_info"]["BraTS2021_00002"] == {"shape": [8, 8, 4, 4], "spacing_mm": [0.8, 0.8, 2.5],
                                                 "axcodes": "LPS", "axial_axis": 2}
    assert m["case_sources"]["BraTS2021_00002"]["t1ce"].endswith("BraTS2021_00002/BraTS2021_00002_t1ce.nii.gz")
    assert m["labels"] == {"1": "necrotic tumour core (NCR)", "2": "peritumoral edema (ED)",
                           "4": "enhancing tumour (ET)"}
    assert m["suggested_targets"]["whole_tumour"] == [1, 2, 4]
    check_rerun_is_idempotent(prepare_brats2021, tmp_path / "dl", dst, "brats2021")
    with pytest.raises(InputError, match="prepared with options"):  # one folder never mixes two conversions
        prepare_brats2021(tmp_path / "dl", dst, modality="flair")
    check_layout_error(prepare_brats2021, tmp_path, "BraTS2021_00000_flair.nii.gz", "BraTS2021_00000_seg.nii.gz")


def test_brats2021_single_sequence_stays_3d(tmp_path):
    src, dst = tmp_path / "dl" / "RSNA_ASNR_MICCAI_BraTS2021_TrainingData_16July2021", tmp_path / "root"
    vols = build_brats(src, ids=(0, 2, 5), skip={5: "t1ce"})
    report = prepare_brats2021(tmp_path / "dl", dst, modality="flair")
    assert report.written == ["BraTS2021_00000", "BraTS2021_00002", "BraTS2021_00005"] and report.ok
    img, lab, _, _ = load_out(dst, "brats2021", "BraTS2021_00002")
    assert img.shape == SHAPE and np.array_equal(img, vols["BraTS2021_00002", "flair"])
    assert set(np.unique(lab)) == {0, 1, 2, 4} and lab.dtype == np.uint8
    m = meta(dst, "brats2021")
    assert m["channels"] == "grey" and "channel_names" not in m and m["modality"] == "MRI (FLAIR)"
    assert m["case_info"]["BraTS2021_00002"]["shape"] == [8, 8, 4]
    report = prepare_brats2021(tmp_path / "dl", tmp_path / "root_t1ce", modality="T1CE")
    assert report.written == ["BraTS2021_00000", "BraTS2021_00002"]  # 00005 has no t1ce: not paired
    assert any("without a label" in w or "without an image" in w for w in report.warnings)
    img, _, _, _ = load_out(tmp_path / "root_t1ce", "brats2021", "BraTS2021_00002")
    assert np.array_equal(img, vols["BraTS2021_00002", "t1ce"])
    assert meta(tmp_path / "root_t1ce", "brats2021")["modality"] == "MRI (T1ce)"
    with pytest.raises(InputError, match="all .*flair, t1, t1ce, t2"):
        prepare_brats2021(tmp_path / "dl", dst, modality="dwi")


# ------------------------------------------------------------------------------------------------------------
# KiTS


def test_kits_19_21_23_layouts_and_zyx_affine_kept(tmp_path):
    src, dst = tmp_path / "dl" / "kits21" / "data", tmp_path / "root"
    zyx_affine = np.array([[0, 0, -0.78, 0], [0, -0.78, 0, 0], [3.0, 0, 0, 0], [0, 0, 0, 1]])  # KiTS19 style
    save_nii(src / "case_00000" / "imaging.nii.gz", ramp((4, 8, 8)).astype(np.float64), zyx_affine)
    save_nii(src / "case_00000" / "segmentation.nii.gz", label_map([1, 2], (4, 8, 8)), zyx_affine)
    save_nii(src / "case_00001" / "imaging.nii.gz", ramp(seed=1))
    save_nii(src / "case_00001" / "aggregated_MAJ_seg.nii.gz", label_map([1, 2, 3]))
    save_nii(src / "case_00001" / "segmentations" / "tumor_instance-1_annotation-1.nii.gz", label_map([1]))
    save_nii(src / "case_00210" / "imaging.nii.gz", ramp())  # KiTS19 test case: imaging only
    report = prepare_kits(tmp_path / "dl", dst)
    assert report.written == ["case_00000", "case_00001"]
    assert any("without a label" in w and "case_00210" in w for w in report.warnings)
    img, lab, nimg, nlab = load_out(dst, "kits", "case_00000")
    assert img.shape == (4, 8, 8) and img.dtype == np.float32 and np.array_equal(img, ramp((4, 8, 8)))
    assert np.allclose(nimg.affine, zyx_affine) and np.allclose(nlab.affine, zyx_affine)
    _, lab1, _, _ = load_out(dst, "kits", "case_00001")
    assert set(np.unique(lab1)) == {0, 1, 2, 3}
    m = meta(dst, "kits")
    assert m["labels"] == {"1": "kidney", "2": "tumour", "3": "cyst"}
    assert m["case_info"]["case_00000"]["axial_axis"] == 0 and m["case_info"]["case_00001"]["axial_axis"] == 2
    assert m["case_sources"]["case_00001"]["label"].endswith("aggregated_MAJ_seg.nii.gz")
    check_rerun_is_idempotent(prepare_kits, tmp_path / "dl", dst, "kits")
    check_layout_error(prepare_kits, tmp_path, "case_00000/", "imaging.nii.gz", "segmentation.nii.gz")


# ------------------------------------------------------------------------------------------------------------
# LiTS


def test_lits_batches_zero_padding_and_original_ids(tmp_path):
    src, dst = tmp_path / "dl", tmp_path / "root"
    for batch, ids in (("Training Batch 1", (0, 1, 2)), ("Training Batch 2", (10, 28, 130))):
        for n in ids:
            save_nii(src / batch / f"volume-{n}.nii", ramp(seed=n).astype(np.float32))
            save_nii(src / batch / f"segmentation-{n}.nii", label_map([1, 2]).astype(np.float32))
    save_nii(src / "Testing Batch" / "test-volume-0.nii", ramp())
    report = prepare_lits(src, dst)
    expected = ["lits_000", "lits_001", "lits_002", "lits_010", "lits_028", "lits_130"]
    assert report.written == expected and not any("sort" in w for w in report.warnings)
    m = meta(dst, "lits")
    assert m["cases"] == expected and m["labels"] == {"1": "liver", "2": "tumour"}
    assert m["original_ids"]["lits_028"] == "volume-28" and m["original_ids"]["lits_000"] == "volume-0"
    assert m["case_sources"]["lits_130"]["image"] == "Training Batch 2/volume-130.nii"
    img, lab, _, _ = load_out(dst, "lits", "lits_028")
    assert np.array_equal(img, ramp(seed=28)) and lab.dtype == np.uint8 and set(np.unique(lab)) == {0, 1, 2}
    check_rerun_is_idempotent(prepare_lits, src, dst, "lits")
    save_nii(src / "copy" / "volume-1.nii", ramp())
    with pytest.raises(InputError, match="two volume files for case '1'"):
        prepare_lits(src, tmp_path / "root2")
    check_layout_error(prepare_lits, tmp_path, "volume-0.nii", "segmentation-0.nii", "Training Batch 1")


# ------------------------------------------------------------------------------------------------------------
# TopCoW


def test_topcow_2024_mra_by_default_and_2023_layout(tmp_path):
    src, dst = tmp_path / "dl" / "TopCoW2024_Data_Release", tmp_path / "root"
    cow = label_map([1, 4, 6, 10, 15])
    for mod in ("mr", "ct"):
        for n in (1, 2, 13):
            save_nii(src / "imagesTr" / f"topcow_{mod}_{n:03d}_0000.nii.gz", ramp(seed=n))
            save_nii(src / "cow_seg_labelsTr" / f"topcow_{mod}_{n:03d}.nii.gz", cow)
    (src / "roi_loc_labelsTr").mkdir()
    (src / "roi_loc_labelsTr" / "topcow_mr_001.txt").write_text("Size (Voxels): 4 4 2\n")
    report = prepare_topcow(tmp_path / "dl", dst)
    assert report.written == ["topcow_mr_001", "topcow_mr_002", "topcow_mr_013"]
    _, lab, _, _ = load_out(dst, "topcow", "topcow_mr_013")
    assert set(np.unique(lab)) == {0, 1, 4, 6, 10, 15}
    m = meta(dst, "topcow")
    assert m["modality"] == "MRA" and m["labels"]["15"] == "3rd-A2" and m["labels"]["1"] == "BA"
    assert m["suggested_targets"]["vessels"] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15]
    check_rerun_is_idempotent(prepare_topcow, tmp_path / "dl", dst, "topcow")
    both = prepare_topcow(tmp_path / "dl", tmp_path / "both", modality="both")
    assert len(both.written) == 6 and meta(tmp_path / "both", "topcow")["modality"] == "MRA + CTA"

    old = tmp_path / "dl23" / "topcow_batch-1_40pairMRCT_30062023"
    for kind in ("whole", "roi"):
        save_nii(old / "imagesTr" / f"topcow_mr_{kind}_024_0000.nii.gz", ramp())
        save_nii(old / "mul_labelsTr" / f"topcow_mr_{kind}_024.nii.gz", cow)
        save_nii(old / "bin_labelsTr" / f"topcow_mr_{kind}_024.nii.gz", (cow > 0).astype(np.uint8))
    report = prepare_topcow(tmp_path / "dl23", tmp_path / "root23")
    assert report.written == ["topcow_mr_whole_024"]
    _, lab, _, _ = load_out(tmp_path / "root23", "topcow", "topcow_mr_whole_024")
    assert np.array_equal(lab, cow)  # multi-class labels, not the binary ones
    check_layout_error(prepare_topcow, tmp_path, "topcow_mr_001_0000.nii.gz", "cow_seg_labelsTr")


# ------------------------------------------------------------------------------------------------------------
# NasalSeg (NRRD)


def test_nrrd_reader_axis_order_and_lps(tmp_path):
    vol = promise_volume().astype(np.int16)
    p = write_nrrd(tmp_path / "a.nrrd", vol, directions=[(0.5, 0, 0), (0, 0.5, 0), (0, 0, 1.5)],
                   origin=(-10.0, 5.0, 2.0), endian="big")
    nr = read_nrrd(p)
    assert nr.array.shape == (5, 4, 3) and nr.array[3, 2, 1] == 321 and np.array_equal(nr.array, vol)
    assert nr.spacing == (0.5, 0.5, 1.5)
    assert np.allclose(nr.affine, [[-0.5, 0, 0, 10], [0, -0.5, 0, -5], [0, 0, 1.5, 2], [0, 0, 0, 1]])
    raw = write_nrrd(tmp_path / "b.nrrd", vol, directions=[(0.5, 0, 0), (0, 0.5, 0), (0, 0, 1.5)],
                     origin=(0, 0, 0), space="right-anterior-superior", encoding="raw")
    assert np.allclose(read_nrrd(raw).affine[:3, :3], np.diag([0.5, 0.5, 1.5]))
    (tmp_path / "c.nrrd").write_bytes(b"P6\n")
    with pytest.raises(InputError, match="not an NRRD file"):
        read_nrrd(tmp_path / "c.nrrd")


def test_nasalseg_nrrd_release(tmp_path):
    src, dst = tmp_path / "dl" / "NasalSeg", tmp_path / "root"
    directions = [(0.586, 0, 0), (0, 0.586, 0), (0, 0, 1.5)]
    for n in (1, 2, 12):
        write_nrrd(src / "images" / f"P{n:03d}_img.nrrd", promise_volume(seed=n), directions=directions,
                   origin=(-40.0, -60.0, 10.0))
        seg = np.zeros((5, 4, 3), np.uint8)
        seg[0, 0, 0], seg[1, 1, 1], seg[2, 2, 2], seg[3, 3, 0], seg[4, 0, 1] = 1, 2, 3, 4, 5
        write_nrrd(src / "labels" / f"P{n:03d}_seg.nrrd", seg, directions=directions, origin=(-40.0, -60.0, 10.0))
    (tmp_path / "dl" / "__MACOSX" / "NasalSeg" / "images").mkdir(parents=True)
    (tmp_path / "dl" / "__MACOSX" / "NasalSeg" / "images" / "._P001_img.nrrd").write_bytes(b"junk")
    report = prepare_nasalseg(tmp_path / "dl", dst)
    assert report.written == ["P001", "P002", "P012"] and report.ok
    img, lab, nimg, _ = load_out(dst, "nasalseg", "P012")
    assert img[3, 2, 1] == 321 + 12 and lab[2, 2, 2] == 3 and lab[4, 0, 1] == 5
    assert np.allclose(nimg.affine, [[-0.586, 0, 0, 40], [0, -0.586, 0, 60], [0, 0, 1.5, 10], [0, 0, 0, 1]])
    m = meta(dst, "nasalseg")
    # Grouping as MedSAMix's NasalSeg_1_2 / _3_4 / _5 tasks; right/left as scripts reading the real files give.
    assert m["labels"] == {"1": "right maxillary sinus", "2": "left maxillary sinus", "3": "right nasal cavity",
                           "4": "left nasal cavity", "5": "nasopharynx"}
    assert m["suggested_targets"] == {"maxillary_sinuses": [1, 2], "nasal_cavities": [3, 4], "nasopharynx": [5]}
    assert any("MedSAMix" in n and "check one case visually" in n for n in m["notes"])
    check_rerun_is_idempotent(prepare_nasalseg, tmp_path / "dl", dst, "nasalseg")
    check_layout_error(prepare_nasalseg, tmp_path, "P001_img.nrrd", "P001_seg.nrrd")


def test_nasalseg_nifti_folders_fallback(tmp_path):
    src = tmp_path / "dl"
    for n in (1, 2):
        save_nii(src / "image" / f"P{n:03d}.nii.gz", ramp(seed=n))
        save_nii(src / "label" / f"P{n:03d}.nii.gz", label_map([1, 2, 3, 4, 5]))
    report = prepare_nasalseg(src, tmp_path / "root")
    assert report.written == ["P001", "P002"]


# ------------------------------------------------------------------------------------------------------------
# REFUGE (2D RGB)


def refuge_mask(h=12, w=16) -> np.ndarray:
    grey = np.full((h, w), 255, np.uint8)
    grey[2:9, 3:12] = 128  # disc rim
    grey[4:7, 5:9] = 0  # cup
    return grey


def test_refuge_rgb_images_and_disc_cup_masks(tmp_path):
    from PIL import Image

    src, dst = tmp_path / "REFUGE", tmp_path / "root"
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    places = {
        "g0001": ("Training400/Glaucoma/g0001.png", "Annotation-Training400/Disc_Cup_Masks/Glaucoma/g0001.bmp"),
        "n0001": ("Training400/Non-Glaucoma/n0001.jpg",
                  "Annotation-Training400/Disc_Cup_Masks/Non-Glaucoma/n0001.bmp"),
        "V0001": ("REFUGE-Validation400/V0001.jpg", "REFUGE-Validation400-GT/Disc_Cup_Masks/V0001.bmp"),
    }
    for image_rel, mask_rel in places.values():
        (src / image_rel).parent.mkdir(parents=True, exist_ok=True)
        (src / mask_rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(src / image_rel)
        Image.fromarray(refuge_mask()).save(src / mask_rel)
    (src / "Test400").mkdir()
    Image.fromarray(rgb).save(src / "Test400" / "T0001.jpg")  # no mask: not converted
    report = prepare_refuge(src, dst)
    assert report.written == ["V0001", "g0001", "n0001"]
    img, lab, nimg, _ = load_out(dst, "refuge", "g0001")
    assert img.shape == (12, 16, 3) and img.dtype == np.uint8 and np.array_equal(img, rgb)  # PNG is lossless
    expected = np.zeros((12, 16), np.uint8)
    expected[2:9, 3:12] = 1
    expected[4:7, 5:9] = 2
    assert lab.shape == (12, 16) and np.array_equal(lab, expected)
    assert np.allclose(nimg.affine, np.eye(4))
    assert load_out(dst, "refuge", "V0001")[0].shape == (12, 16, 3)
    m = meta(dst, "refuge")
    assert m["channels"] == "rgb" and m["modality"] == "fundus photography"
    assert m["labels"] == {"1": "optic disc rim (disc = labels 1+2)", "2": "optic cup"}
    assert m["suggested_targets"] == {"optic_disc": [1, 2], "optic_cup": [2]}
    assert m["case_info"]["g0001"] == {"shape": [12, 16, 3], "spacing_mm": [1.0, 1.0]}
    assert any("1 fundus images without a label" in w for w in report.warnings)
    check_rerun_is_idempotent(prepare_refuge, src, dst, "refuge")
    check_layout_error(prepare_refuge, tmp_path, "Disc_Cup_Masks", "g0001.bmp")


# ------------------------------------------------------------------------------------------------------------
# FreeSurfer (.mgz)


def save_mgz(path: Path, array, affine) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.MGHImage(np.asarray(array), affine), str(path))


def test_freesurfer_subjects_mgz(tmp_path):
    src, dst = tmp_path / "subjects", tmp_path / "root"
    lia = np.array([[-1.0, 0, 0, 4], [0, 0, 1, -2], [0, -1, 0, 4], [0, 0, 0, 1]])  # FreeSurfer conformed LIA
    aseg = np.zeros(SHAPE, np.int32)
    aseg[1, 1, 1], aseg[2, 2, 2], aseg[3, 3, 3], aseg[4, 4, 0], aseg[5, 5, 1], aseg[6, 6, 2] = 4, 43, 17, 53, 2, 5
    for subj in ("subj01", "subj02"):
        save_mgz(src / subj / "mri" / "orig.mgz", ramp(seed=3, dtype=np.uint8), lia)
        save_mgz(src / subj / "mri" / "aseg.mgz", aseg, lia)
    save_mgz(src / "fsaverage" / "mri" / "orig.mgz", ramp(dtype=np.uint8), lia)  # template, no aseg
    report = prepare_freesurfer(src, dst)
    assert report.written == ["subj01", "subj02"] and report.ok and not report.warnings
    img, lab, nimg, _ = load_out(dst, "freesurfer", "subj02")
    assert img.dtype == np.uint8 and np.array_equal(img, ramp(seed=3, dtype=np.uint8))
    assert np.array_equal(lab, aseg) and lab.dtype == np.uint8 and np.allclose(nimg.affine, lia)
    m = meta(dst, "freesurfer")
    assert m["labels"]["4"] == "Left-Lateral-Ventricle" and m["labels"]["43"] == "Right-Lateral-Ventricle"
    assert m["labels"]["17"] == "Left-Hippocampus" and m["labels"]["53"] == "Right-Hippocampus"
    assert m["labels"]["5"] == "Left-Inf-Lat-Vent" and m["labels"]["44"] == "Right-Inf-Lat-Vent"
    assert m["case_info"]["subj01"]["axcodes"] == "LIA" and m["case_info"]["subj01"]["axial_axis"] == 1
    assert m["suggested_targets"]["hippocampus"] == [17, 53]
    check_rerun_is_idempotent(prepare_freesurfer, src, dst, "freesurfer")
    prepare_freesurfer(src, tmp_path / "kept", keep_labels="4,43")
    _, lab, _, _ = load_out(tmp_path / "kept", "freesurfer", "subj01")
    assert set(np.unique(lab)) == {0, 4, 43}
    assert meta(tmp_path / "kept", "freesurfer")["labels"] == {"4": "Left-Lateral-Ventricle",
                                                               "43": "Right-Lateral-Ventricle"}
    check_layout_error(prepare_freesurfer, tmp_path, "mri/", "orig.mgz", "aseg.mgz")


def test_freesurfer_fcon1000_processed_and_raw_side_by_side(tmp_path):
    """image=norm (aseg as is) and image=rawavg (aseg resampled onto the native grid) in two dataset folders."""
    src, dst = tmp_path / "subjects", tmp_path / "root"
    # Conformed grid: 10³ 1 mm LIA, voxel (i, j, k) at world (5 − i, k − 5, 5 − j).
    lia = np.array([[-1.0, 0, 0, 5], [0, 0, 1, -5], [0, -1, 0, 5], [0, 0, 0, 1]])
    i, j, k = np.meshgrid(np.arange(10), np.arange(10), np.arange(10), indexing="ij")
    aseg = (1 + 100 * i + 10 * j + k).astype(np.int32)  # every voxel its own id: the id names the voxel
    aseg[0, 0, 0] = 0
    # Native grid: RAS, 1.5 × 1.25 × 2 mm, 9 × 11 × 7; it sticks out of the conformed box on every side, and no
    # voxel centre falls on a half-voxel of the conformed grid (no ties).
    raw_affine = np.array([[1.5, 0, 0, -6.3], [0, 1.25, 0, -6.2], [0, 0, 2.0, -7.1], [0, 0, 0, 1]])
    rawavg = ramp((9, 11, 7), seed=1).astype(np.float32)
    for subj in ("sub01", "sub02"):
        save_mgz(src / subj / "mri" / "norm.mgz", ramp((10, 10, 10), seed=2, dtype=np.uint8), lia)
        save_mgz(src / subj / "mri" / "rawavg.mgz", rawavg, raw_affine)
        save_mgz(src / subj / "mri" / "aseg.mgz", aseg, lia)
    cli = {"norm": ["image=norm", "dataset_id=fcon1000_freesurfer"],
           "rawavg": ["image=rawavg", "dataset_id=fcon1000_freesurfer_raw"]}
    processed = prepare_dataset("freesurfer", src, dst, **parse_options("freesurfer", cli["norm"]))
    raw = prepare_dataset("freesurfer", src, dst, **parse_options("freesurfer", cli["rawavg"]))
    assert processed.dataset == "fcon1000_freesurfer" and raw.dataset == "fcon1000_freesurfer_raw"
    assert processed.written == raw.written == ["sub01", "sub02"] and processed.ok and raw.ok

    _, lab, _, _ = load_out(dst, "fcon1000_freesurfer", "sub01")
    assert np.array_equal(lab, aseg)
    img, lab, nimg, nlab = load_out(dst, "fcon1000_freesurfer_raw", "sub02")
    assert img.shape == lab.shape == (9, 11, 7) and np.array_equal(img, rawavg)
    assert np.allclose(nimg.affine, raw_affine) and np.allclose(nlab.affine, raw_affine)
    assert lab.dtype == np.uint16 and set(np.unique(lab)) <= set(np.unique(aseg))  # exact ids, no blends
    # By hand: rawavg voxel (4, 5, 3) lies at world (−0.3, 0.05, −1.1) → conformed (5.3, 6.1, 5.05) → (5, 6, 5).
    assert lab[4, 5, 3] == 1 + 500 + 60 + 5
    # rawavg (7, 2, 6) at world (4.2, −3.7, 4.9) → conformed (0.8, 0.1, 1.3) → (1, 0, 1).
    assert lab[7, 2, 6] == 1 + 100 + 0 + 1
    # Outside the conformed box [−4.5, 5.5] in x: rawavg x-index 0 (world −6.3) and 8 (world 5.7) are background.
    assert not lab[0].any() and not lab[8].any()
    # Every voxel against the affines (nearest conformed voxel centre, 0 outside).
    vox = np.stack(np.meshgrid(*map(np.arange, (9, 11, 7)), indexing="ij"), -1).reshape(-1, 3)
    world = vox @ raw_affine[:3, :3].T + raw_affine[:3, 3]
    src_vox = np.rint((world - lia[:3, 3]) @ np.linalg.inv(lia[:3, :3]).T).astype(int)
    inside = np.all((src_vox >= 0) & (src_vox < 10), axis=1)
    expected = np.zeros(len(vox), np.int64)
    expected[inside] = aseg[tuple(src_vox[inside].T)]
    assert np.array_equal(lab.reshape(-1), expected)
    assert any("aseg ids" in w and "cover no rawavg voxel centre" in w for w in raw.warnings)  # 2 mm vs 1 mm

    m_raw, m_proc = meta(dst, "fcon1000_freesurfer_raw"), meta(dst, "fcon1000_freesurfer")
    assert m_raw["prepare_options"] == {"image": "rawavg", "keep_labels": None}
    assert m_proc["prepare_options"] == {"image": "norm", "keep_labels": None}
    assert m_raw["case_info"]["sub01"] == {"shape": [9, 11, 7], "spacing_mm": [1.5, 1.25, 2.0], "axcodes": "RAS",
                                           "axial_axis": 2}
    assert m_proc["case_info"]["sub01"]["axcodes"] == "LIA"
    assert any("resampled" in n for n in m_raw["notes"]) and m_raw["case_sources"]["sub01"]["image"].endswith(
        "mri/rawavg.mgz")
    check_rerun_is_idempotent(prepare_freesurfer, src, dst, "fcon1000_freesurfer_raw", image="rawavg",
                              dataset_id="fcon1000_freesurfer_raw")
    with pytest.raises(InputError, match="prepared with options"):
        prepare_freesurfer(src, dst, image="norm", dataset_id="fcon1000_freesurfer_raw")
    with pytest.raises(InputError, match="rawavg"):
        prepare_freesurfer(src, dst, image="raw")


# ------------------------------------------------------------------------------------------------------------
# DoFE fundus crops (2D RGB, four domains)


def dofe_red(h=12, w=16) -> np.ndarray:
    red = np.full((h, w), 255, np.uint8)
    red[2:9, 3:12] = 128  # disc rim
    red[4:7, 5:9] = 0  # cup
    return red


def dofe_expected(red: np.ndarray) -> np.ndarray:
    lab = np.zeros(red.shape, np.uint8)
    lab[red == 128] = 1
    lab[red == 0] = 2
    return lab


def test_dofe_fundus_domains_red_channel_splits_and_sort_warning(tmp_path):
    from PIL import Image

    fundus, dst = tmp_path / "dl" / "Fundus", tmp_path / "root"
    rng = np.random.default_rng(3)

    def put(rel: str, image: Image.Image, mask: Image.Image | None) -> None:
        for kind, pic in (("image", image), ("mask", mask)):
            if pic is not None:
                path = fundus / rel.replace("/ROIs/", f"/ROIs/{kind}/")
                path.parent.mkdir(parents=True, exist_ok=True)
                pic.save(path)

    def rgb_image() -> np.ndarray:
        return rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)

    def rgb_mask(red: np.ndarray) -> Image.Image:  # green/blue carry noise: only red may count
        return Image.fromarray(np.dstack([red, rng.integers(0, 256, red.shape, dtype=np.uint8),
                                          rng.integers(0, 256, red.shape, dtype=np.uint8)]))

    odd = dofe_red()
    odd[0, 0], odd[0, 1], odd[0, 2], odd[5, 6] = 127, 129, 1, 2  # near misses → background (exact equality)
    images = {"domain1_train_gdrishtiGS_002": rgb_image(), "domain2_train_G-1-L": rgb_image(),
              "domain2_test_N-2-L": rgb_image()}
    grey = rng.integers(0, 256, size=(12, 16), dtype=np.uint8)
    rgba = rng.integers(0, 256, size=(12, 16, 4), dtype=np.uint8)
    put("Domain1/train/ROIs/gdrishtiGS_002.png", Image.fromarray(images["domain1_train_gdrishtiGS_002"]),
        rgb_mask(odd))
    put("Domain1/train/ROIs/ndrishtiGS_010.png", Image.fromarray(grey), Image.fromarray(dofe_red()))  # grey mask
    put("Domain1/test/ROIs/gdrishtiGS_001.png", Image.fromarray(rgb_image()),
        Image.fromarray(np.full((12, 16), 255, np.uint8)))  # no disc at all
    put("Domain1/test/ROIs/gdrishtiGS_003.png", Image.fromarray(rgb_image()), None)  # image without a mask
    put("Domain2/train/ROIs/G-1-L.png", Image.fromarray(images["domain2_train_G-1-L"]),
        Image.fromarray(dofe_red()).convert("P"))  # palette mask
    put("Domain2/train/ROIs/S-3-L.png", Image.fromarray(rgb_image()),
        Image.fromarray(dofe_red().astype(np.uint16) * 257))  # 16-bit mask: refused
    put("Domain2/test/ROIs/N-2.png", Image.fromarray(rgba, "RGBA"), rgb_mask(dofe_red()))
    put("Domain2/test/ROIs/N-2-L.png", Image.fromarray(images["domain2_test_N-2-L"]), rgb_mask(dofe_red()))
    (fundus / "Domain2" / "test" / "ROIs" / "image" / "._N-2.png").write_bytes(b"junk")  # macOS fork

    report = prepare_dofe_fundus(tmp_path / "dl", dst)  # the parent of Fundus/
    assert report.written == ["domain1_test_gdrishtiGS_001", "domain1_train_gdrishtiGS_002",
                              "domain1_train_ndrishtiGS_010", "domain2_test_N-2", "domain2_test_N-2-L",
                              "domain2_train_G-1-L"]
    assert list(report.failed) == ["domain2_train_S-3-L"] and "not 8-bit" in report.failed["domain2_train_S-3-L"]
    for cid, rgb in images.items():  # RGB round trip (PNG is lossless)
        img, _, nimg, _ = load_out(dst, "dofe_fundus", cid)
        assert img.shape == (12, 16, 3) and img.dtype == np.uint8 and np.array_equal(img, rgb), cid
        assert np.allclose(nimg.affine, np.eye(4))
    assert np.array_equal(load_out(dst, "dofe_fundus", "domain1_train_ndrishtiGS_010")[0], np.dstack([grey] * 3))
    assert np.array_equal(load_out(dst, "dofe_fundus", "domain2_test_N-2")[0], rgba[..., :3])  # alpha dropped
    _, lab, _, _ = load_out(dst, "dofe_fundus", "domain1_train_gdrishtiGS_002")
    assert lab.dtype == np.uint8 and np.array_equal(lab, dofe_expected(odd))
    assert lab[0, 0] == lab[0, 1] == lab[0, 2] == lab[5, 6] == 0 and lab[5, 5] == 2 and lab[3, 4] == 1
    for cid in ("domain1_train_ndrishtiGS_010", "domain2_train_G-1-L", "domain2_test_N-2-L"):
        assert np.array_equal(load_out(dst, "dofe_fundus", cid)[1], dofe_expected(dofe_red())), cid
    assert not load_out(dst, "dofe_fundus", "domain1_test_gdrishtiGS_001")[1].any()

    w = report.warnings
    assert any("gdrishtiGS_002" in x and "red values other than 0/128/255 (1, 2, 127, 129)" in x for x in w)
    assert any("domain1_test_gdrishtiGS_001" in x and "no disc pixel" in x for x in w)
    assert any("1 ROIs/image PNGs without a label" in x for x in w)
    sort = [x for x in w if "sort differently from their file names" in x]
    assert len(sort) == 1 and sort[0].startswith("domain2 test") and "'N-2-L.png' sorts before 'N-2.png'" in sort[0]

    m = meta(dst, "dofe_fundus")
    assert m["channels"] == "rgb" and m["modality"] == "fundus photography" and m["converter"] == "dofe_fundus"
    assert m["labels"] == {"1": "optic disc rim (disc = labels 1+2)", "2": "optic cup"}
    assert m["suggested_targets"] == {"optic_disc": [1, 2], "optic_cup": [2]}
    assert m["splits"] == {
        "domain1": {"calibration": ["domain1_train_gdrishtiGS_002", "domain1_train_ndrishtiGS_010"],
                    "test": ["domain1_test_gdrishtiGS_001"]},
        "domain2": {"calibration": ["domain2_train_G-1-L"], "test": ["domain2_test_N-2", "domain2_test_N-2-L"]},
    }  # the failed S-3-L is in no split
    assert m["original_files"]["domain2_test_N-2-L"] == "Domain2/test/ROIs/image/N-2-L.png"
    assert set(m["original_files"]) == set(m["cases"])
    assert m["case_info"]["domain2_test_N-2"] == {"shape": [12, 16, 3], "spacing_mm": [1.0, 1.0]}
    check_rerun_is_idempotent(prepare_dofe_fundus, fundus, dst, "dofe_fundus")  # --src = Fundus/ itself
    assert meta(dst, "dofe_fundus")["splits"] == m["splits"]
    check_layout_error(prepare_dofe_fundus, tmp_path, "Domain1/", "ROIs/", "gdrishtiGS_002.png", "red channel")
    (tmp_path / "flat" / "image").mkdir(parents=True)
    Image.fromarray(rgb_image()).save(tmp_path / "flat" / "image" / "a.png")  # not the DoFE tree
    with pytest.raises(InputError, match=r"found no Domain\*/\{train,test\}/ROIs/image"):
        prepare_dofe_fundus(tmp_path / "flat", tmp_path / "out_flat")


# ------------------------------------------------------------------------------------------------------------
# Generic pairs / rat


def build_pairs(root: Path, stems=("rat1", "rat2", "rat10")) -> None:
    for k, stem in enumerate(stems):
        save_nii(root / "images" / f"{stem}_0000.nii.gz", ramp(seed=k))
        save_nii(root / "labels" / f"{stem}.nii.gz", label_map([1, 2, 7]))


def test_generic_pairs_names_zero_pad_and_unnamed_labels(tmp_path):
    src = tmp_path / "mine"
    build_pairs(src)
    report = prepare_generic_pairs(src, tmp_path / "root", labels="1=liver,2=kidney,7=heart", modality="CT",
                                   dataset_id="my_rats", zero_pad=True)
    assert report.written == ["rat01", "rat02", "rat10"] and report.dataset == "my_rats"
    m = meta(tmp_path / "root", "my_rats")
    assert m["labels"] == {"1": "liver", "2": "kidney", "7": "heart"} and m["modality"] == "CT"
    assert m["original_ids"] == {"rat01": "rat1", "rat02": "rat2"}
    img, lab, _, _ = load_out(tmp_path / "root", "my_rats", "rat10")
    assert np.array_equal(img, ramp(seed=2)) and set(np.unique(lab)) == {0, 1, 2, 7}
    check_rerun_is_idempotent(prepare_generic_pairs, src, tmp_path / "root", "my_rats",
                              labels="1=liver,2=kidney,7=heart", modality="CT", dataset_id="my_rats", zero_pad=True)
    plain = prepare_generic_pairs(src, tmp_path / "plain")
    assert plain.written == ["rat1", "rat10", "rat2"]
    assert any("sort differently" in w and "'rat10' sorts before 'rat2'" in w for w in plain.warnings)
    assert meta(tmp_path / "plain", "generic_pairs")["labels"] == {"1": "label_1", "2": "label_2", "7": "label_7"}


def test_rat_converter_is_the_generic_one(tmp_path):
    src = tmp_path / "rat_brain"
    build_pairs(src, stems=("brain_01", "brain_02"))
    report = prepare_rat(src, tmp_path / "root", dataset_id="rat_brain", labels={1: "cortex", 2: "hippocampus"},
                         keep_labels=[1, 2], modality="MRI")
    assert report.written == ["brain_01", "brain_02"]
    m = meta(tmp_path / "root", "rat_brain")
    assert m["labels"] == {"1": "cortex", "2": "hippocampus"} and m["converter"] == "rat"
    _, lab, _, _ = load_out(tmp_path / "root", "rat_brain", "brain_02")
    assert set(np.unique(lab)) == {0, 1, 2}  # id 7 dropped by keep_labels
    with pytest.raises(InputError) as err:
        prepare_rat(tmp_path / "rat_brain" / "images", tmp_path / "x")
    assert "no images/ folder" in str(err.value) and "labels/" in str(err.value)
    assert "Arrange the files as shown" in str(err.value)


def test_generic_pairs_reads_metaimage_and_other_converter_dataset_is_refused(tmp_path):
    src = tmp_path / "mixed"
    write_mhd(src / "images" / "c1.mhd", promise_volume(), spacing=(0.6, 0.7, 3.6))
    write_mhd(src / "labels" / "c1.mha", (promise_volume() == 321).astype(np.uint8), spacing=(0.6, 0.7, 3.6),
              etype="MET_UCHAR", local=True)
    report = prepare_generic_pairs(src, tmp_path / "root", dataset_id="flare22", labels="1=spot")
    img, lab, nimg, _ = load_out(tmp_path / "root", "flare22", "c1")
    assert report.written == ["c1"] and img[3, 2, 1] == 321 and lab[3, 2, 1] == 1 and lab.sum() == 1
    assert nimg.header.get_zooms() == pytest.approx((0.6, 0.7, 3.6))
    build_flare22(tmp_path / "dl")
    with pytest.raises(InputError, match="prepared by converter 'generic_pairs'"):
        prepare_flare22(tmp_path / "dl", tmp_path / "root")


def test_a_dataset_being_prepared_is_locked(tmp_path):
    from medmix.run_folder import RunFolderBusy, RunLock

    src = tmp_path / "mine"
    build_pairs(src)
    with RunLock(tmp_path / "root" / "generic_pairs", "data prepare"):
        with pytest.raises(RunFolderBusy, match="another medmix data prepare"):
            prepare_generic_pairs(src, tmp_path / "root")
    assert prepare_generic_pairs(src, tmp_path / "root").written == ["rat1", "rat10", "rat2"]
