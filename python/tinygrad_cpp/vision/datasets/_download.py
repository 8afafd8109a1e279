"""Fetching files over HTTP(S) with a tqdm progress bar, verified before they are kept.

A download goes to a temporary name in the target directory and is renamed to its final
name only after `verify` accepted its bytes, so an interrupted or corrupt download never
leaves a file that a later run would mistake for a good one.
"""
import os

_CHUNK = 1 << 16


def urlopen(url, timeout):
    """urllib's opener, imported on first use (it is slow to import). Looked up at call
    time, so tests can serve local bytes instead of touching the network."""
    import urllib.request
    return urllib.request.urlopen(url, timeout=timeout)


def fetch(urls, dest, verify, timeout=30.0):
    """Downloads the first of `urls` whose bytes `verify(path)` accepts (it raises on bad
    data) and atomically moves it to `dest`. Raises RuntimeError naming `dest` and every
    failed URL when none works."""
    from tqdm import tqdm  # imported when a download happens, not with the package

    directory = os.path.dirname(os.path.abspath(dest))
    os.makedirs(directory, exist_ok=True)
    errors = []
    for url in urls:
        tmp = os.path.join(directory, f".{os.path.basename(dest)}.{os.urandom(6).hex()}.part")
        try:
            with urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
                total = int(length) if length and length.isdigit() else None
                with tqdm(total=total, desc=f"Downloading {url}", unit="B", unit_scale=True,
                          unit_divisor=1024) as bar:
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        bar.update(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            verify(tmp)
            os.replace(tmp, dest)
            return dest
        except Exception as e:  # any failure of one mirror: try the next one
            errors.append(f"{url}: {e}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise RuntimeError(f"could not download {os.path.basename(dest)} to {directory}:\n  " + "\n  ".join(errors))
