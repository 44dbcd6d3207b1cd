"""`medmix score` inputs that used to give silent wrong answers or misleading messages: a requested label in neither
file, a zero spacing in a header (NIfTI pixdim, .npz, NRRD, MetaImage), and paths that are missing, a directory
where a mask file belongs, or unreadable."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from medmix.cli.main import app
from medmix.data.io import load_mask, save_mask
from medmix.errors import InputError
from medmix.scoring import score_files

runner = CliRunner()


def _pair(tmp_path, ext=".png"):
    gt = np.zeros((20, 20), np.uint8)
    gt[2:8, 2:8] = 1
    gt[12:18, 12:18] = 2
    pred = gt.copy()
    pred[12:18, 12:15] = 0
    return save_mask(tmp_path / f"pred{ext}", pred), save_mask(tmp_path / f"gt{ext}", gt)


# ----------------------------------------------------------------------------------------------- labels


def test_label_in_neither_file_is_an_error_listing_the_labels(tmp_path):
    pred, gt = _pair(tmp_path)
    with pytest.raises(InputError) as info:
        score_files(pred, gt, metrics=["dice"], labels=[5])
    text = str(info.value)
    assert "label 5 is in neither file" in text and "perfect match" in text
    assert f"pred file {str(pred)!r}: 1, 2" in text and f"gt file {str(gt)!r}: 1, 2" in text
    result = runner.invoke(app, ["score", str(pred), str(gt), "--label", "5"])
    assert result.exit_code == 2 and "label 5 is in neither file" in result.output
    assert "Traceback" not in result.output


def test_label_in_one_file_only_is_still_scored(tmp_path):
    gt = np.zeros((10, 10), np.uint8)
    gt[2:5, 2:5] = 3
    pred = np.zeros_like(gt)
    save_mask(tmp_path / "p.npy", pred)
    save_mask(tmp_path / "g.npy", gt)
    report = score_files(tmp_path / "p.npy", tmp_path / "g.npy", metrics=["dice"], labels=[3])
    assert report.results[3]["dice"] == 0.0
    with pytest.raises(InputError, match=r"pred file .*: none \(empty mask\); gt file .*: 3"):
        score_files(tmp_path / "p.npy", tmp_path / "g.npy", metrics=["dice"], labels=[1])


# ----------------------------------------------------------------------------------------------- header spacing


def _nifti_with_pixdim(path, pixdim, shape=(6, 7, 5), affine=None):
    data = np.zeros(shape, np.uint8)
    data[1:4, 2:5, 1:3] = 1
    img = nib.Nifti1Image(data, affine)  # affine None: geometry from pixdim only (sform/qform codes 0)
    img.header["pixdim"][1:len(pixdim) + 1] = pixdim
    nib.save(img, str(path))
    return path


def test_zero_pixdim_is_refused_naming_file_and_axis(tmp_path, capfd):
    path = _nifti_with_pixdim(tmp_path / "flat.nii.gz", (0.8, 0.0, 2.5))
    with pytest.raises(InputError) as info:
        load_mask(path, name="gt")
    text = str(info.value)
    assert "gt file" in text and "flat.nii.gz" in text and "along array axis 1 (pixdim[2] = 0" in text
    assert "Fix the header" in text and "nibabel would silently read it as 1 mm" in text
    assert "pixdim" not in capfd.readouterr().err  # nibabel's own "setting 0 dims to 1" never printed
    with pytest.raises(InputError, match=r"along array axis 0 \(pixdim\[1\] = nan"):
        load_mask(_nifti_with_pixdim(tmp_path / "nan.nii.gz", (np.nan, 1.0, 1.0)))


def test_score_with_a_zero_pixdim_says_to_pass_spacing_and_then_works(tmp_path):
    gt = _nifti_with_pixdim(tmp_path / "gt.nii.gz", (0.8, 0.0, 2.5))
    pred = _nifti_with_pixdim(tmp_path / "pred.nii.gz", (0.8, 0.0, 2.5))
    result = runner.invoke(app, ["score", str(pred), str(gt), "-m", "hd95"])
    assert result.exit_code == 2, result.output
    assert "gt.nii.gz" in result.output and "axis 1" in result.output and "--spacing X,Y,Z" in result.output
    ok = runner.invoke(app, ["score", str(pred), str(gt), "-m", "hd95", "--spacing", "0.8,0.9,2.5", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["spacing_mm"] == [0.8, 0.9, 2.5]


def test_zero_pixdim_on_a_squeezed_singleton_axis_is_harmless(tmp_path):
    img = load_mask(_nifti_with_pixdim(tmp_path / "slice.nii.gz", (0.5, 0.5, 0.0), shape=(6, 7, 1)))
    assert img.ndim == 2 and img.spacing == (0.5, 0.5)


def test_negative_pixdim_never_reaches_the_metrics_as_negative(tmp_path):
    img = load_mask(_nifti_with_pixdim(tmp_path / "neg.nii.gz", (-0.8, 0.9, 2.5)))
    assert img.spacing == (0.8, 0.9, 2.5)


def test_zero_npz_spacing_names_the_axis(tmp_path):
    path = tmp_path / "z.npz"
    np.savez(path, mask=np.ones((3, 3, 3), np.uint8), spacing=np.array([1.0, 0.0, 1.0]))
    with pytest.raises(InputError, match=r"z\.npz'.*has 0 along array axis 1.*Fix the stored spacing, or pass the "
                                         r"spacing explicitly"):
        score_files(path, path)


def test_harness_cases_refuse_a_zero_pixdim_too(tmp_path):
    from medmix.data.sources import _read_nifti

    class Card:
        name = "liver"
        prepare = None
        dataset = "d"

    path = _nifti_with_pixdim(tmp_path / "case_001.nii.gz", (1.0, 1.0, 0.0))
    with pytest.raises(InputError, match=r"task 'liver', case 'c1': label .*case_001\.nii\.gz: the header gives "
                                         r"spacing 0 along array axis 2"):
        _read_nifti(path, "label", "c1", Card())


def _nrrd(path, header_lines):
    data = np.zeros((4, 3, 2), np.uint8).tobytes()
    header = ["NRRD0004", "type: uchar", "dimension: 3", "sizes: 4 3 2", "encoding: raw", *header_lines]
    path.write_bytes(("\n".join(header) + "\n\n").encode() + data)
    return path


@pytest.mark.parametrize("lines, expected", [
    (["spacings: 1 0 2"], r"'spacings: 1 0 2' gives spacing 0 along axis 1"),
    (["spacings: 1 nan 2"], r"'spacings: 1 nan 2' gives spacing nan along axis 1"),
    (["space: left-posterior-superior", "space directions: (1,0,0) (0,0,0) (0,0,2)"],
     r"'space directions: .*' gives spacing 0 along axis 1"),
])
def test_nrrd_zero_or_unknown_spacing_is_refused(tmp_path, lines, expected):
    from medmix.data.prepare.nrrd import read_nrrd

    with pytest.raises(InputError, match=rf"NRRD file '.*x\.nrrd': {expected}.*Fix the header"):
        read_nrrd(_nrrd(tmp_path / "x.nrrd", lines))
    assert read_nrrd(_nrrd(tmp_path / "ok.nrrd", ["spacings: 1 0.5 2"])).spacing == (1.0, 0.5, 2.0)


def test_metaimage_zero_spacing_is_refused(tmp_path):
    from medmix.data.prepare.metaimage import read_metaimage

    path = tmp_path / "x.mha"
    header = ["ObjectType = Image", "NDims = 3", "BinaryData = True", "ElementSpacing = 0.7 0 3",
              "DimSize = 4 3 2", "ElementType = MET_UCHAR", "ElementDataFile = LOCAL"]
    path.write_bytes(("\n".join(header) + "\n").encode() + bytes(24))
    with pytest.raises(InputError, match=r"x\.mha'.*ElementSpacing = '0\.7 0 3' gives 0 along axis 1"):
        read_metaimage(path)


# ----------------------------------------------------------------------------------------------- paths


def test_score_paths_missing_directory_unreadable(tmp_path, monkeypatch):
    pred, gt = _pair(tmp_path, ".nii.gz")
    (tmp_path / "preds").mkdir()
    result = runner.invoke(app, ["score", str(tmp_path / "preds"), str(gt)])
    assert result.exit_code == 2
    assert "pred file" in result.output and "is a directory, but a mask file" in result.output
    assert "unsupported file type" not in result.output
    (tmp_path / "gt_dir.nii.gz").mkdir()
    with pytest.raises(InputError, match=r"gt file '.*gt_dir\.nii\.gz': is a directory"):
        score_files(pred, tmp_path / "gt_dir.nii.gz")
    with pytest.raises(InputError, match=r"pred file '.*nope\.mha': no such file"):
        score_files(tmp_path / "nope.mha", gt)  # missing is said before the extension
    import builtins

    import medmix.user_paths as io_module

    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        if str(file) == str(pred):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io_module, "open", guarded, raising=False)
    with pytest.raises(InputError, match=r"pred file '.*pred\.nii\.gz': cannot be read \(Permission denied\)"):
        score_files(pred, gt)
