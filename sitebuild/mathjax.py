"""A copy of MathJax for the site, so that no page loads anything from another host.

MathJax 3 comes from its npm package (``npm pack``, the registry's ordinary client), unpacked
once into a cache folder; only the parts a page can load are kept: the TeX+MathML to CHTML
component, its fonts, the TeX extensions it loads on demand, the menu and the accessibility
parts the menu can switch on.
"""

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

VERSION = "3.2.2"
ENTRY = "tex-mml-chtml.js"  # what Sphinx's mathjax_path names, as on the CDN
_KEEP = (ENTRY, "input", "output/chtml", "output/chtml.js", "a11y", "sre", "ui", "adaptors")


def vendor(cache: Path, version: str = VERSION) -> Path:
    """Return a folder holding ``mathjax/`` (MathJax ``version``'s es5 build), made on first use."""
    root = Path(cache) / f"mathjax-{version}"
    if (root / "mathjax" / ENTRY).is_file():
        return root
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("the site ships its own MathJax, from the npm package "
                           f"mathjax@{version}: install Node.js and npm (Debian: apt-get install "
                           "npm), then build again")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", f"mathjax@{version}", "--silent", "--pack-destination", tmp],
                       check=True, stdout=subprocess.DEVNULL)
        (tarball,) = Path(tmp).glob("mathjax-*.tgz")
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        es5 = Path(tmp) / "package" / "es5"
        staging = Path(tmp) / "mathjax"
        for part in _KEEP:
            src = es5 / part
            if src.is_dir():
                shutil.copytree(src, staging / part)
            elif src.is_file():
                (staging / part).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, staging / part)
        shutil.copyfile(Path(tmp) / "package" / "LICENSE", staging / "LICENSE")
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        shutil.move(str(staging), root / "mathjax")
    return root
