"""Model store: cache location, verification and the errors a user sees (no network needed
except where the real model files are fetched once into the user cache)."""

from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path

import pytest

from pose_ros.models import store


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv(store.ENV_DIR, str(folder))
    return folder


@pytest.fixture(scope="module")
def real_files() -> dict[str, Path]:
    """The real model files, fetched once into the user cache (not the test's)."""
    try:
        return store.fetch_models()
    except store.ModelStoreError as exc:
        pytest.skip(f"BlazePose models not available (PyPI unreachable?): {exc}")


def fake_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in members.items():
            wheel.writestr(name, data)
    return path


def test_cache_dir_from_environment(cache):
    assert store.cache_dir() == cache
    infos = store.list_models()
    assert [i.name for i in infos] == ["pose_detection", "pose_landmark_full", "hand_recrop",
                                       "hand_landmark_full", "selfie_segmentation"]
    assert all(not i.present and not i.sha256_ok and i.path.parent == cache for i in infos)


def test_missing_without_download_says_how_to_fix(cache):
    with pytest.raises(store.ModelStoreError) as err:
        store.fetch_models(["pose_detection"], allow_download=False)
    text = str(err.value)
    assert str(cache / "pose_detection.tflite") in text
    assert "pose-ros models fetch" in text and "local .tflite" in text


def test_wrong_file_names_expected_sha256(cache):
    cache.mkdir()
    spec = store.MODELS["pose_landmark_full"]
    (cache / spec.filename).write_bytes(b"\0" * spec.size_bytes)
    with pytest.raises(store.ModelStoreError, match=spec.sha256) as err:
        store.model_path("pose_landmark_full", allow_download=False)
    assert "wrong" in str(err.value) and str(cache / spec.filename) in str(err.value)
    assert not store.list_models()[1].sha256_ok and store.list_models()[1].present


def test_truncated_file_is_reported_as_truncated(cache, real_files):
    cache.mkdir()
    spec = store.MODELS["pose_detection"]
    (cache / spec.filename).write_bytes(real_files["pose_detection"].read_bytes()[:100_000])
    with pytest.raises(store.ModelStoreError, match="truncated") as err:
        store.fetch_models(["pose_detection"], allow_download=False)
    assert spec.sha256 in str(err.value)


def test_no_network_gives_documented_error_and_no_partial_file(cache, tmp_path, monkeypatch):
    """pip pointed at an unreachable index (and away from local config): a clear error."""
    links = tmp_path / "no_links"
    links.mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "2")
    with pytest.raises(store.ModelStoreError, match="downloading mediapipe==0.10.14") as err:
        store.fetch_models()
    assert "pose-ros models" in str(err.value)
    assert not cache.exists() or not any(cache.iterdir())


def test_corrupt_download_leaves_no_cache_entry(cache, tmp_path, monkeypatch):
    spec = store.MODELS["pose_detection"]

    def download(dest: Path) -> Path:  # a wheel whose member is cut short
        return fake_wheel(dest / "mediapipe-0.10.14-cp311-none-any.whl",
                          {spec.member: b"TFL3" * 1000})

    monkeypatch.setattr(store, "download_wheel", download)
    with pytest.raises(store.ModelStoreError, match=spec.sha256):
        store.fetch_models(["pose_detection"])
    assert list(cache.iterdir()) == []  # neither the file nor its temporary


def test_extract_from_wheel_and_replace_wrong_cached_file(cache, tmp_path, real_files):
    wheel = fake_wheel(tmp_path / "mediapipe-0.10.14-cp311-none-any.whl",
                       {s.member: real_files[s.name].read_bytes()
                        for s in store.MODELS.values()})
    cache.mkdir()
    (cache / "pose_detection.tflite").write_bytes(b"stale")
    paths = store.fetch_models(wheel=wheel)
    assert paths == {n: cache / s.filename for n, s in store.MODELS.items()}
    assert all(store.sha256_of(paths[n]) == s.sha256 for n, s in store.MODELS.items())
    assert all(i.sha256_ok for i in store.list_models())
    assert sorted(p.name for p in cache.iterdir()) == sorted(s.filename
                                                             for s in store.MODELS.values())


def test_model_path_accepts_local_tflite_and_rejects_others(cache, tmp_path, real_files):
    local = tmp_path / "my_model.tflite"
    local.write_bytes(real_files["pose_detection"].read_bytes())
    assert store.model_path(str(local), allow_download=False) == local
    not_tflite = tmp_path / "notes.txt"
    not_tflite.write_text("hello world")
    with pytest.raises(store.ModelStoreError, match="not a TFLite flatbuffer"):
        store.model_path(not_tflite, allow_download=False)
    with pytest.raises(store.ModelStoreError, match="pose_landmark_full"):
        store.model_path("pose_landmark_heavy", allow_download=False)


def test_cli_helpers(cache, capsys):
    parser = argparse.ArgumentParser()
    store.add_arguments(parser)
    assert store.run(parser.parse_args(["list"])) == 0
    assert "pose_detection\tabsent" in capsys.readouterr().out
    assert store.run(parser.parse_args(["path", "pose_landmark_full"])) == 0
    assert capsys.readouterr().out.strip() == str(cache / "pose_landmark_full.tflite")
    assert store.run(parser.parse_args(["fetch", "nope"])) == 1
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_a_download_is_announced_with_its_size(cache, tmp_path, monkeypatch, real_files, caplog):
    """A first start says what it downloads, how big, and how long it took."""
    wheel = fake_wheel(tmp_path / "mediapipe-0.10.14-cp311-none-any.whl",
                       {s.member: real_files[s.name].read_bytes()
                        for s in store.MODELS.values()})
    downloads = []
    monkeypatch.setattr(store, "download_wheel", lambda dest: downloads.append(1) or wheel)
    with caplog.at_level("INFO", logger="pose_ros.models.store"):
        store.fetch_models(["pose_detection"])
        store.fetch_models(["pose_landmark_full"])     # came with the first download
    before, after = [r.getMessage() for r in caplog.records]
    assert "pose_detection.tflite" in before and "mediapipe==0.10.14" in before
    assert f"{store.WHEEL_SIZE_MB:.1f} MB" in before
    assert "downloaded" in after and "pose_detection.tflite (3.0 MB)" in after
    assert "pose_landmark_full.tflite (6.4 MB)" in after and downloads == [1]
