"""ColBERTv2 residual compression of the ``colbert`` index: token vectors are assigned to k-means
centroids (uint16 codes) and the residual is stored with 2 bits per dimension (32 bytes per 128-dim
token), about 34 bytes per token instead of 256 in fp16. :class:`TokenStore` holds one index
generation's compressed vectors in memory, shared by the retriever and the ``maxsim-reranker``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .colbert_model import torch_module
from .index_read import Index, IndexError_


def _kmeans(x: Any, k: int, iters: int = 8, seed: int = 0) -> Any:
    torch = torch_module()
    g = torch.Generator().manual_seed(seed)
    xt = torch.from_numpy(x).float()
    cent = xt[torch.randperm(xt.shape[0], generator=g)[:k]].clone()
    for _ in range(iters):
        assign = torch.cat([(xt[s:s + 65536] @ cent.T).argmax(1) for s in range(0, xt.shape[0], 65536)])
        sums = torch.zeros_like(cent).index_add_(0, assign, xt)
        counts = torch.bincount(assign, minlength=k).unsqueeze(1).float()
        empty = counts.squeeze(1) == 0
        cent = torch.where(empty.unsqueeze(1), cent, sums / counts.clamp(min=1))
        cent = torch.nn.functional.normalize(cent, dim=1)
    return cent.numpy()


class Codec:
    """Centroid codes + 2-bit residuals (ColBERTv2)."""

    def __init__(self, centroids: Any, cutoffs: Any, weights: Any):
        import numpy as np

        self.centroids = centroids.astype(np.float32)
        self.cutoffs = cutoffs.astype(np.float32)
        self.weights = weights.astype(np.float32)
        # byte -> 4 residual values (2 bits each, most significant first)
        b = np.arange(256)
        self.table = np.stack([self.weights[(b >> s) & 3] for s in (6, 4, 2, 0)], axis=1).astype(np.float32)

    @classmethod
    def train(cls, sample: Any, k: int) -> Codec:
        import numpy as np

        cent = _kmeans(sample, k)
        codes = cls._assign(cent, sample)
        res = (sample - cent[codes]).ravel()
        cutoffs = np.quantile(res, [0.25, 0.5, 0.75])
        weights = np.quantile(res, [0.125, 0.375, 0.625, 0.875])
        return cls(cent, cutoffs, weights)

    @staticmethod
    def _assign(cent: Any, x: Any) -> Any:
        import numpy as np

        return np.concatenate([(x[s:s + 65536] @ cent.T).argmax(1) for s in range(0, len(x), 65536)]).astype(np.uint16)

    def compress(self, x: Any) -> tuple[Any, Any]:
        import numpy as np

        x = x.astype(np.float32)
        codes = self._assign(self.centroids, x)
        buckets = np.searchsorted(self.cutoffs, x - self.centroids[codes]).astype(np.uint8)  # 0..3
        b = buckets.reshape(len(x), -1, 4)
        packed = (b[:, :, 0] << 6) | (b[:, :, 1] << 4) | (b[:, :, 2] << 2) | b[:, :, 3]
        return codes, packed.astype(np.uint8)

    def decompress(self, codes: Any, packed: Any) -> Any:
        import numpy as np

        x = self.centroids[codes]
        x += self.table[packed].reshape(len(codes), -1)
        x /= np.sqrt(np.einsum("ij,ij->i", x, x))[:, None] + 1e-6
        return x

    def save(self, d: Path) -> None:
        import numpy as np

        np.save(d / "centroids.npy", self.centroids.astype(np.float16))
        np.save(d / "cutoffs.npy", self.cutoffs)
        np.save(d / "weights.npy", self.weights)

    @classmethod
    def load(cls, d: Path) -> Codec:
        import numpy as np

        return cls(np.load(d / "centroids.npy"), np.load(d / "cutoffs.npy"), np.load(d / "weights.npy"))


class TokenStore:
    """The compressed token vectors of one index's colbert part, loaded once per process and shared by
    the ``colbert`` searcher and the ``maxsim-reranker`` (which scores indexed passages from them
    instead of re-encoding their text)."""

    def __init__(self, d: Path):
        import numpy as np

        if not (d / "codes.npy").is_file():
            raise IndexError_(f"the index at {d.parent.parent} lacks its colbert part; rebuild it")
        self.codec = Codec.load(d)
        self.codes = np.load(d / "codes.npy")
        self.packed = np.load(d / "residuals.npy")
        self.lens = np.load(d / "doclens.npy").astype(np.int64)
        self.offs = np.concatenate([[0], np.cumsum(self.lens)])
        self.n = len(self.lens)

    def vectors(self, pos: int) -> Any:
        """The decompressed ``[tokens, dim]`` float32 vectors of the passage at ``pos``."""
        s, e = int(self.offs[pos]), int(self.offs[pos + 1])
        return self.codec.decompress(self.codes[s:e], self.packed[s:e])

    def vectors_many(self, positions: list[int]) -> list[Any]:
        """:meth:`vectors` of several passages, decompressed in one call."""
        import numpy as np

        if not positions:
            return []
        pos = np.asarray(positions, dtype=np.int64)
        starts, lens = self.offs[pos], self.offs[pos + 1] - self.offs[pos]
        bounds = np.concatenate([[0], np.cumsum(lens)])
        rows = np.arange(int(bounds[-1])) - np.repeat(bounds[:-1] - starts, lens)
        flat = self.codec.decompress(self.codes[rows], self.packed[rows])
        return [flat[bounds[i]:bounds[i + 1]] for i in range(len(pos))]


_stores: dict[str, TokenStore] = {}
_store_lock = threading.Lock()


def token_store(index: Index) -> TokenStore:
    """The shared :class:`TokenStore` of ``index``'s colbert part (the last 4 generations stay loaded)."""
    d = index.part("colbert").resolve()
    key = str(d)
    with _store_lock:
        if key not in _stores:
            _stores[key] = TokenStore(d)
            while len(_stores) > 4:
                _stores.pop(next(iter(_stores)))
        return _stores[key]
