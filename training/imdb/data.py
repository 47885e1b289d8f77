"""The IMDB reviews: the Stanford archive (or its folder) read offline, or `tfds.load('imdb_reviews')`."""

from __future__ import annotations

import logging
import os
import posixpath
import re
import socket
import tarfile
import threading
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass

import numpy as np
import tensorflow_datasets as tfds

from projector_export.errors import ProjectorExportError
from projector_export.files import Skipped, files_in, fs, open_file, read_bytes
from training.imdb import ACLIMDB_URL

_ACLIMDB_FILE_RE = re.compile(r"(?:^|/)(train|test)/(pos|neg)/([^/]+\.txt)$")
_SPLITS = ("train", "test")
_LABELS = {"neg": 0, "pos": 1}
_CONNECT_TIMEOUT_S = 5.0

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reviews:
    """One split: review texts and labels (1 = positive, 0 = negative)."""

    texts: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


def load_reviews(aclimdb: str | None = None, data_dir: str | None = None) -> tuple[Reviews, Reviews]:
    """The IMDB train and test splits, from the Stanford archive or tfds.

    Args:
        aclimdb: `aclImdb_v1.tar.gz` or its extracted `aclImdb/` folder; read offline.
        data_dir: tfds's data dir for `imdb_reviews` (default: tfds's own).

    Raises:
        ProjectorExportError: `aclimdb` is not in the archive's layout, or tfds has not
            prepared `imdb_reviews` and its download server cannot be reached.
    """
    if aclimdb is not None:
        return read_aclimdb(aclimdb)
    return read_tfds(data_dir)


# A review is a few KB; IMDB's longest is 14 KB. Anything far larger is not a review.
MAX_REVIEW_BYTES = 1 << 20


def read_aclimdb(path: str) -> tuple[Reviews, Reviews]:
    """Read `train|test/pos|neg/*.txt` from `aclImdb_v1.tar.gz` or the extracted folder.

    Files are read in name order, negative before positive; `train/unsup` is skipped.
    Only regular files are read: symbolic links (in the folder, or link members of the
    archive) and entries that are not files (FIFOs, devices, folders named `*.txt`) are
    skipped and counted in a warning. A review over `MAX_REVIEW_BYTES` is refused.

    Raises:
        ProjectorExportError: not the archive's layout, not a readable archive, or a review
            too large, naming the file or member.
    """
    path = os.fspath(path)
    found: dict[tuple[str, str], list[tuple[str, str]]] = {(s, l): [] for s in _SPLITS for l in _LABELS}
    kind = fs.kind(path)
    if kind is None:
        raise ProjectorExportError(
            f"`aclimdb={path}`: no such file or folder; give aclImdb_v1.tar.gz or its extracted aclImdb/ folder"
        )
    skipped = Skipped()
    if kind == fs.FOLDER or (kind == fs.LINK and os.path.isdir(path)):
        root = _aclimdb_root(path)
        for split, label in found:
            for file in files_in(posixpath.join(root, split, label), r".*\.txt", skipped):
                data = read_bytes(file, "review", limit=MAX_REVIEW_BYTES)
                found[split, label].append((posixpath.basename(file), _decode(data)))
    else:
        _read_archive(path, found, skipped)
    if skipped:
        logger.warning("%s: skipped %s; only regular files are read as reviews", path, skipped.summary())
    missing = [f"{split}/{label}" for (split, label), files in found.items() if not files]
    if missing:
        raise ProjectorExportError(
            f"`aclimdb={path}`: no reviews in {', '.join(missing)}; expected the archive's layout "
            "aclImdb/train/pos/*.txt, train/neg, test/pos and test/neg"
        )
    splits = []
    for split in _SPLITS:
        texts, labels = [], []
        for label, value in _LABELS.items():
            for _, text in sorted(found[split, label]):
                texts.append(text)
                labels.append(value)
        splits.append(Reviews(texts, np.array(labels, dtype=np.int64)))
    return splits[0], splits[1]


def _read_archive(path: str, found: dict, skipped: Skipped) -> None:
    """The reviews of `aclImdb_v1.tar.gz`, streamed: the archive is read once, front to back, and no
    member is read whole before its size is checked."""
    with open_file(path, "`aclimdb`") as raw:
        try:
            with tarfile.open(fileobj=raw, mode="r|*") as archive:
                for member in archive:
                    match = _ACLIMDB_FILE_RE.search(member.name)
                    if not match:
                        continue
                    if not member.isfile():
                        (skipped.links if member.issym() or member.islnk() else skipped.other).append(member.name)
                        continue
                    if member.size > MAX_REVIEW_BYTES:
                        raise ProjectorExportError(
                            f"`aclimdb={path}`: member {member.name} is {member.size:,} bytes, more than the "
                            f"{MAX_REVIEW_BYTES:,} a review may have; is it the IMDB archive?"
                        )
                    split, label, name = match.groups()
                    text = _decode(archive.extractfile(member).read(MAX_REVIEW_BYTES + 1))
                    found[split, label].append((name, text))
        except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
            raise ProjectorExportError(
                f"`aclimdb={path}`: not a readable tar archive ({error}); give aclImdb_v1.tar.gz "
                "or its extracted aclImdb/ folder"
            ) from None


def _aclimdb_root(path: str) -> str:
    for root in (path, posixpath.join(path, "aclImdb")):
        if all(fs.is_folder(posixpath.join(root, split)) for split in _SPLITS):
            return root
    raise ProjectorExportError(
        f"`aclimdb={path}`: the folder has no train/ and test/ folders; give the extracted "
        "aclImdb/ folder (aclImdb/train/pos/*.txt, ...) or aclImdb_v1.tar.gz"
    )


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def read_tfds(data_dir: str | None = None) -> tuple[Reviews, Reviews]:
    """`tfds.load('imdb_reviews')` (plain text), downloading it first if it is not prepared.

    Without the prepared dataset and without a connection to the download server, fails
    at once with what to pass instead, where tfds would retry for minutes.
    """
    builder = tfds.builder("imdb_reviews", data_dir=data_dir)
    if not builder.is_prepared() and not can_connect(ACLIMDB_URL):
        raise ProjectorExportError(
            f"IMDB reviews are not prepared in the tfds data dir {builder.data_path.parents[2]} "
            f"and {urllib.parse.urlsplit(ACLIMDB_URL).hostname} cannot be reached to download them. "
            f"Download {ACLIMDB_URL} on a machine with internet and pass --aclimdb PATH (the "
            "archive or its extracted aclImdb/ folder), or pass --data-dir DIR where tfds has "
            "prepared imdb_reviews; or see the whole pipeline at once on generated reviews with --sample"
        )
    splits = tfds.load("imdb_reviews", split=list(_SPLITS), as_supervised=True, data_dir=data_dir)
    reviews = []
    for dataset in splits:
        texts, labels = [], []
        for text, label in tfds.as_numpy(dataset):
            texts.append(_decode(text))
            labels.append(int(label))
        reviews.append(Reviews(texts, np.array(labels, dtype=np.int64)))
    return reviews[0], reviews[1]


def can_connect(url: str, timeout: float = _CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to `url`'s server (or the HTTP proxy) opens within `timeout`.

    Run in a thread, so a name lookup that hangs counts against the timeout too.
    """
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    address = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    connected = threading.Event()

    def connect() -> None:
        try:
            socket.create_connection(address, timeout=timeout).close()
            connected.set()
        except OSError:
            pass

    threading.Thread(target=connect, daemon=True).start()
    return connected.wait(timeout)
