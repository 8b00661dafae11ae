"""Downloading a dataset: mirrors, checksums, timeouts, progress, and signals held
while a file is moved into place (see :mod:`satsim.data`)."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import math
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from satsim._atomic import atomic_writer
from satsim._validation import check_real
from satsim.data._catalog import (
    _CHUNK,
    DEFAULT_TIMEOUT,
    READ_TIMEOUT,
    _cache_dir,
    _entry,
    _file_sha256,
    _log,
)
from satsim.data._readers import (
    DatasetError,
)


def _content_length(resp) -> int | None:
    try:
        n = int(resp.headers.get("Content-Length", ""))
    except ValueError:  # absent (chunked or read-to-close) or malformed: unknown length
        return None
    return n if n >= 0 else None


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)  # str(URLError) wraps it in "<urlopen error ...>"
    return str(exc) or type(exc).__name__


def _download(url: str, target: Path, digest: str, progress: bool, *,
              timeout: float | None = DEFAULT_TIMEOUT,
              read_timeout: float = READ_TIMEOUT) -> None:
    """Stream ``url`` into ``target``, verifying its length and SHA-256 on the way.

    The file is written through :func:`satsim._atomic.atomic_writer`: every check
    runs inside the writer's block, so a failed check (or ``KeyboardInterrupt``)
    removes the temporary file and ``target`` is never replaced by a bad download.
    (The helper fits streaming: the body is written chunk by chunk into its file.)

    Parameters
    ----------
    url : str
    target : Path
    digest : str
        Registered SHA-256 of the file, hex.
    progress : bool
        Show a tqdm progress bar.
    timeout : float or None
        Overall deadline in seconds for this file, counted from the connect;
        ``None`` for none.  It is checked between reads of the body and each socket
        operation waits at most ``min(read_timeout, timeout)``, so the body is
        overrun by at most that much.  (The response headers are read by
        ``http.client``, bounded per read only.)
    read_timeout : float
        How long a single connect or socket read may wait.

    Raises
    ------
    DatasetError
        ``"<url>: <reason>"`` for anything this mirror got wrong: unreachable, an
        HTTP error, a stalled or too slow transfer, fewer bytes than the
        Content-Length, or a SHA-256 mismatch.  Local errors (e.g. a full disk)
        propagate unchanged: another mirror would not help.
    """
    deadline = math.inf if timeout is None else time.monotonic() + timeout
    # without the cap, a tight deadline could be overrun by a whole read_timeout
    per_read = read_timeout if timeout is None else min(read_timeout, timeout)

    def too_slow(received: int, total: int | None) -> DatasetError:
        of = f" of {total}" if total is not None else ""
        return DatasetError(f"{url}: not complete within the {timeout:g} s deadline "
                            f"({received}{of} bytes received); partial file discarded")

    try:
        resp = urllib.request.urlopen(url, timeout=per_read)
    except (OSError, http.client.HTTPException) as exc:  # URLError, HTTPError are OSErrors
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()  # it holds the error response open
        if time.monotonic() >= deadline:
            raise too_slow(0, None) from None
        raise DatasetError(f"{url}: {_network_reason(exc)}") from None
    with resp, contextlib.ExitStack() as cleanup:
        with _signals_held():
            out = cleanup.enter_context(atomic_writer(target))
        # a signal held above is raised here, inside the ExitStack: the writer removes
        # its temporary file
        total = _content_length(resp)
        h = hashlib.sha256()
        received = 0
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="B", unit_scale=True, desc=target.name)
        try:
            while True:
                if time.monotonic() >= deadline:
                    raise too_slow(received, total)
                try:
                    # read1, not read: read(n) blocks until n bytes arrive, so a server
                    # dripping bytes would never give the deadline check a turn
                    chunk = resp.read1(_CHUNK)
                except TimeoutError:
                    if time.monotonic() >= deadline:
                        raise too_slow(received, total) from None
                    raise DatasetError(f"{url}: no data for {per_read:g} s after {received} "
                                       "bytes (read timeout); partial file discarded") from None
                except (OSError, http.client.HTTPException) as exc:
                    raise DatasetError(f"{url}: connection lost after {received} bytes "
                                       f"({_network_reason(exc)}); partial file "
                                       "discarded") from None
                if not chunk:
                    break
                out.write(chunk)
                h.update(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        # http.client's read1 does not raise on a short body: a server closing early
        # just looks like the end of the file, so compare with what it announced
        if total is not None and received != total:
            raise DatasetError(f"{url}: truncated transfer, {received} of {total} bytes "
                               "(Content-Length); partial file discarded")
        if h.hexdigest() != digest:
            ctype = resp.headers.get("Content-Type", "")
            hint = (f"; the server sent {ctype.split(';')[0]}, an error page?"
                    if ctype.startswith("text/") else "")
            raise DatasetError(f"{url}: SHA-256 {h.hexdigest()} of {received} bytes does "
                               f"not match the registered {digest}{hint}; file discarded")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Make SIGTERM raise ``KeyboardInterrupt("terminated")`` in the block.

    SIGTERM's default action kills the process without unwinding the stack, which
    would leave the temporary download behind; as an exception it runs the same
    cleanup as Ctrl-C, and the CLI reports it in one line.  Only the main thread may
    set signal handlers, so elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt("terminated")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        # None: the previous handler was not set from Python; the default is the
        # closest thing signal.signal can restore
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM in the block, then deliver them to the usual handlers.

    Between ``mkstemp`` returning and ``atomic_writer`` recording the temporary file's
    name there is a (tiny) window in which an interrupt would leave the file behind;
    the CLI test hit such a window under load.  Handlers only, not
    ``signal.pthread_sigmask``: the mask is per thread, and a signal delivered to
    another thread (tqdm's monitor) would still reach Python at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread gets Python signal handlers in the first place
        return
    held: list[int] = []
    saved = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            saved[signum] = signal.signal(signum, lambda s, frame: held.append(s))
        yield
    finally:
        for signum, previous in saved.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        for sig in held:  # also if the block failed: an interrupt outranks its error
            signal.raise_signal(sig)  # the restored handler raises, ignores or exits


def fetch(name: str, *, dest: str | os.PathLike | None = None,
          mirrors: Sequence[str] | None = None, progress: bool = True,
          timeout: float | None = DEFAULT_TIMEOUT) -> Path:
    """Download a registered dataset's files, verifying SHA-256; return the directory.

    Files already present with the right checksum are kept.  For each missing file
    the mirrors are tried in turn: a mirror that is unreachable, answers an HTTP
    error, stalls, exceeds the deadline, sends fewer bytes than its Content-Length
    or sends bytes with the wrong SHA-256 (an HTML error page served with status 200,
    say) is logged as a warning on the ``satsim.data`` logger with its URL and the
    reason, and the next mirror is tried.  A download is only moved into place once
    its checksum matches, so a bad or partial file is never kept.

    Parameters
    ----------
    name : str
        A registered dataset (see :func:`names`).
    dest : path, optional
        Target directory, created if needed.  Default: ``$SATSIM_DATA/<name>`` or
        the user cache directory (see the module docstring).
    mirrors : sequence of str, optional
        Base URLs to try in order, each joined with the file name.  Default: the
        registered mirrors.
    progress : bool, default True
        Show a progress bar per file.
    timeout : float or None, default 900
        Overall deadline in seconds per file and mirror, on top of the 60 s
        (``READ_TIMEOUT``) a single connect or read may wait: a server that
        drips bytes cannot hold a download for longer (it may overrun by one read,
        at most ``min(60, timeout)`` s).  The default lets the largest registered
        file (26 MB) finish at about 30 kB/s.  ``None``: no deadline.

    Returns
    -------
    Path
        The directory holding the verified files.

    Raises
    ------
    DatasetError
        If every mirror fails for some file; the message lists each mirror's URL
        and reason.
    KeyboardInterrupt
        On Ctrl-C, or on SIGTERM while downloading in the main thread (raised as
        ``KeyboardInterrupt("terminated")``; the previous SIGTERM handler is
        restored afterwards).  The temporary file is removed either way.
    """
    entry = _entry(name)
    if timeout is not None:
        timeout = check_real("timeout", timeout, low=0, low_inclusive=False)
    if isinstance(mirrors, str | bytes):
        # a lone string would be iterated character by character
        raise TypeError(f"`mirrors` must be a sequence of base URLs, not a string; "
                        f"got mirrors={mirrors!r}")
    mirrors = tuple(mirrors) if mirrors is not None else entry.mirrors
    if not mirrors:
        raise ValueError(f"`mirrors` must not be empty; got mirrors={mirrors!r}")
    if dest is None:
        root = Path(os.environ["SATSIM_DATA"]) if os.environ.get("SATSIM_DATA") else _cache_dir()
        dest = root / name
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with _sigterm_as_interrupt():
        for fname, digest in entry.files.items():
            target = dest / fname
            if target.is_file() and _file_sha256(target) == digest:
                continue
            failures = []
            for i, base in enumerate(mirrors):
                try:
                    _download(base.rstrip("/") + "/" + fname, target, digest, progress,
                              timeout=timeout)
                    break
                except DatasetError as exc:
                    failures.append(str(exc))
                    if i + 1 < len(mirrors):
                        _log.warning("%s; trying the next mirror", exc)
            else:
                raise DatasetError(f"could not download {fname} from any of {len(mirrors)} "
                                   "mirror(s): " + "; ".join(failures))
    return dest
