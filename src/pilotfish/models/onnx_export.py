"""The one-off export of the packaged MiniLM to ONNX (fp32 and int8), checked against sentence-transformers.

``<cache>/models/minilm-onnx/`` holds ``model.onnx`` (fp32, 90 MB), ``model-int8.onnx`` (23 MB) and
``pilotfish_onnx.json``: where they came from, each file's size, mtime and sha256, and the check made at
export (the lowest cosine of each graph's vectors to sentence-transformers' on probe texts, one of them
longer than the 256-token limit). The export takes about 10 s (torch, transformers and the ``onnx``
package are needed here only) and runs under a file lock, so two processes never export at once.

A file that no longer matches its record (size or mtime) is hashed again; a damaged one is exported
anew, with a warning. An export whose fp32 graph does not reproduce sentence-transformers (cosine below
0.9999) or whose int8 graph falls below cosine 0.95 (0.956 measured on the
shortest probe, "ok"; 0.992 the lowest on the 60 dev questions) is refused: the ``minilm`` torch encoder stays the one used.

Why these choices: dynamic int8 quantization per output channel of the constant MatMul weights only
kept cosine 0.99 to fp32 on BBC passages, where the default per-tensor quantization gave 0.95 (and the
ranking moved); ONNX Runtime's transformer-fusion optimizer made the fp32 graph no faster on this CPU, so
it is not used.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from pilotfish.core.errors import MissingDependencyError, ModelError, PilotfishWarning

from .cache import FileLock

META = "pilotfish_onnx.json"
FILES = ("model.onnx", "model-int8.onnx")
FP32_FLOOR = 0.9999
INT8_FLOOR = 0.95
OPSET = 17
PROBES = (
    "Which company did Lakshmi Mittal run?",
    "Steel firm 'to cut' 45,000 jobs. Mittal Steel, one of the world's largest steel producers, is to cut up to "
    "45,000 jobs as part of a restructuring plan.",
    "ok",
    " ".join(["The match ended in a draw after a late goal from the visiting side."] * 30),  # > 256 tokens
)


def _folder() -> Path:
    from .onnx import export_dir

    return export_dir()


def _read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / META).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get("files"), dict) else None


def _stamp(path: Path, sha256: str) -> dict[str, Any]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}


def _matches(path: Path, record: dict[str, Any]) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_size == record.get("size") and st.st_mtime_ns == record.get("mtime_ns")


def export_complete(folder: Path | None = None) -> bool:
    """Whether both graphs are there and unchanged since they were exported and checked (no hashing)."""
    folder = folder or _folder()
    meta = _read_meta(folder)
    return meta is not None and all(_matches(folder / f, meta["files"].get(f) or {}) for f in FILES)


def ensure_export(source: Path, on_export: Any = None) -> Path:
    """The export folder for the sentence-transformers folder ``source``, exporting it when missing or
    damaged (see the module doc); ``on_export(message)`` is told before an export starts (default: a
    line on stderr)."""
    folder = _folder()
    if export_complete(folder):
        return folder
    with FileLock(folder / ".lock"):
        if export_complete(folder):
            return folder
        meta = _read_meta(folder)
        if meta is not None and all((folder / f).is_file() for f in FILES):
            from .packaged import file_sha256

            # touched since the export (copied, restored...): keep it when its bytes are the ones checked
            if all(file_sha256(folder / f) == (meta["files"].get(f) or {}).get("sha256") for f in FILES):
                meta["files"] = {f: _stamp(folder / f, meta["files"][f]["sha256"]) for f in FILES}
                (folder / META).write_text(json.dumps(meta, indent=2))
                return folder
            warnings.warn(f"{folder}: the ONNX MiniLM files are damaged (sha256 mismatch); exporting them again",
                          PilotfishWarning, stacklevel=2)
        elif meta is not None or any((folder / f).exists() for f in FILES):
            warnings.warn(f"{folder}: the ONNX MiniLM export is incomplete; exporting it again", PilotfishWarning,
                          stacklevel=2)
        (on_export or _say)("exporting MiniLM to ONNX (fp32 and int8; once, about 10 s) -> " + str(folder))
        export_in_subprocess(source, folder)
    return folder


def export_in_subprocess(source: Path, folder: Path) -> None:
    """:func:`export` in a child process: torch and the export's buffers (1.2 GB at its peak, 0.9 GB still
    resident after it) never weigh on the process that goes on to build the index and load the large model.
    A missing package is reported before the child starts; the child's error comes back as the same class."""
    import subprocess

    from .onnx import importable

    for module, package, extra in (("torch", "torch", "models"), ("sentence_transformers", "sentence-transformers",
                                   "models"), ("onnx", "onnx", "rag")):
        if not importable(module):
            raise MissingDependencyError(package, extra, "exporting MiniLM to ONNX")
    src_root = str(Path(__file__).resolve().parents[2])  # the folder that holds the pilotfish package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src_root, os.environ.get("PYTHONPATH", "")) if p)}
    out = subprocess.run([sys.executable, "-m", "pilotfish.models.onnx_export", str(source), str(folder)],
                         capture_output=True, text=True, env=env)
    if out.returncode == 0:
        return
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    report = json.loads(lines[-1]) if lines else {}
    message = report.get("message") or f"exit code {out.returncode}: {out.stderr.strip()[-500:]}"
    if report.get("type") == "MissingDependencyError":
        raise MissingDependencyError(report.get("package") or "onnx", "rag", "exporting MiniLM to ONNX")
    raise ModelError(f"exporting MiniLM to ONNX failed: {message}")


def _pooling_mode(module: Any) -> str | None:
    """``"mean"``, ``"cls"``...: sentence-transformers 6 has ``pooling_mode``, older ones flags."""
    mode = getattr(module, "pooling_mode", None)
    if isinstance(mode, str):
        return mode
    return "mean" if getattr(module, "pooling_mode_mean_tokens", False) else None


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _require_export_deps() -> tuple[Any, Any]:
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "torch", "models", "exporting MiniLM to ONNX") from exc
    try:
        import onnx  # noqa: F401  (torch.onnx.export and onnxruntime's quantizer need it)
    except ImportError as exc:
        raise MissingDependencyError("onnx", "rag", "exporting MiniLM to ONNX") from exc
    return torch, SentenceTransformer


def export(source: Path, folder: Path) -> dict[str, Any]:
    """Export ``source`` (a sentence-transformers folder: Transformer, mean Pooling, Normalize) into
    ``folder``, check both graphs against sentence-transformers and write the record; returns it."""
    torch, SentenceTransformer = _require_export_deps()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from .onnx import OnnxEmbedder

    start = time.perf_counter()
    st = SentenceTransformer(str(source), device="cpu")
    modules = [type(m).__name__ for m in st]
    pooling = _pooling_mode(st[1]) if len(st) > 1 else None
    if modules[:1] != ["Transformer"] or pooling != "mean" or "Normalize" not in modules:
        raise ModelError(f"{source}: only Transformer + mean Pooling + Normalize sentence-transformers models "
                         f"are exported to ONNX (this one is {' + '.join(modules)})")
    max_length = int(st.max_seq_length or 256)
    hf = st[0].auto_model.eval()

    class Pooled(torch.nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self, model: Any):
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    folder.mkdir(parents=True, exist_ok=True)
    tmp = {f: folder / f".{f}.tmp-{os.getpid()}" for f in FILES}
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = st.tokenizer(list(PROBES[:2]), padding=True, return_tensors="pt")
    root = logging.getLogger()
    level = root.level
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            root.setLevel(logging.ERROR)  # the quantizer's "consider pre-processing" advice
            torch.onnx.export(Pooled(hf), tuple(example[n] for n in names), str(tmp["model.onnx"]),
                              input_names=names, output_names=["sentence_embedding"],
                              dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names},
                                            "sentence_embedding": {0: "batch"}},
                              opset_version=OPSET, dynamo=False)
            quantize_dynamic(str(tmp["model.onnx"]), str(tmp["model-int8.onnx"]), per_channel=True,
                             weight_type=QuantType.QInt8, extra_options={"MatMulConstBOnly": True})
        reference = st.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
        check = {}
        for f in FILES:
            enc = OnnxEmbedder(tmp[f], source / "tokenizer.json", f, max_length=max_length,
                               dimension=int(reference.shape[1]), threads=1)
            check[f] = float((enc.embed(list(PROBES)) * reference).sum(1).min())
        if check["model.onnx"] < FP32_FLOOR or check["model-int8.onnx"] < INT8_FLOOR:
            raise ModelError(f"the ONNX export of {source} does not reproduce sentence-transformers (lowest cosine: "
                             f"fp32 {check['model.onnx']:.4f}, floor {FP32_FLOOR}; int8 {check['model-int8.onnx']:.4f}, "
                             f"floor {INT8_FLOOR}); use the torch encoder ('minilm')")
        from .packaged import file_sha256

        files = {}
        for f in FILES:
            os.replace(tmp[f], folder / f)
            files[f] = _stamp(folder / f, file_sha256(folder / f))
    finally:
        root.setLevel(level)
        for path in tmp.values():
            path.unlink(missing_ok=True)
    import onnxruntime

    meta = {
        "source": str(source),
        "source_size": (source / "model.safetensors").stat().st_size if (source / "model.safetensors").is_file() else None,
        "max_seq_length": max_length,
        "dimension": int(reference.shape[1]),
        "opset": OPSET,
        "quantization": "dynamic int8, per channel, MatMul weights only",
        "check_min_cosine_to_sentence_transformers": {f: round(c, 6) for f, c in check.items()},
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "seconds": round(time.perf_counter() - start, 1),
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "files": files,
    }
    (folder / META).write_text(json.dumps(meta, indent=2))
    return meta


def _main(argv: list[str]) -> int:
    """``python -m pilotfish.models.onnx_export SOURCE FOLDER`` (what :func:`export_in_subprocess` runs)."""
    try:
        export(Path(argv[0]), Path(argv[1]))
    except ModelError as exc:
        print(json.dumps({"type": type(exc).__name__, "message": str(exc), "package": getattr(exc, "package", None)}))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
