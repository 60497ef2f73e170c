"""The one setting that says where the course lives, and everything derived from it.

The setting, in ``_config.yml``:

* ``repository.url`` — the GitHub repository (``https://github.com/OWNER/NAME``), the one place it is written;
* ``flatgap_install`` — where the notebooks' set-up cell installs the helper package from on Colab: ``git`` (the
  release tag of that repository) or ``pypi`` (``flatgap==<version>``, only for the repository that publishes the
  package ``flatgap`` on PyPI; a fork never does, because that name is upstream's);

and the package's version, ``__version__`` in ``flatgap/__init__.py`` (``pyproject.toml`` reads it).

Derived from them, rewritten by :func:`sync` and compared by :func:`check` (``tests/test_structure.py`` runs it):

* ``repository.branch`` in ``_config.yml`` = the release tag ``v<version>``: Jupyter Book's Colab and Binder launch
  buttons open the notebook at that tag (``…/blob/v<version>/…``, ``…/v2/gh/OWNER/NAME/v<version>?urlpath=…``), the
  very files the page was built from, never a moving branch;
* the set-up cell of every notebook (:func:`nbtools.setup_cell_source`): what it installs;
* ``[project.urls]`` in ``pyproject.toml``, and the links of the package's short PyPI description (``PACKAGE.md``).

Commands::

    python tools/repository.py fork OWNER/NAME            # a fork: point everything at OWNER/NAME, then check
    python tools/repository.py sync                       # after raising __version__: rewrite what derives from it
    python tools/repository.py check                      # exit 1, naming each derived value that is out of date
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "_config.yml"
PYPROJECT = "pyproject.toml"
PACKAGE_README = "PACKAGE.md"
INSTALL_SOURCES = ("git", "pypi")
SLUG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
"""OWNER/NAME as GitHub spells them."""


class SettingError(ValueError):
    """The setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Setting:
    url: str
    install: str
    version: str

    @property
    def slug(self) -> str:
        """``OWNER/NAME``."""
        return self.url.removeprefix("https://github.com/")

    @property
    def tag(self) -> str:
        """The release tag the book is built from, and the launch buttons and the set-up cell use."""
        return f"v{self.version}"

    @property
    def pages(self) -> str:
        """Where GitHub Pages publishes the book (``.github/workflows/deploy-book.yml``)."""
        owner, name = self.slug.split("/")
        return f"https://{owner.lower()}.github.io/{name}/"

    @property
    def requirement(self) -> str:
        """What the set-up cell gives pip: the exact release."""
        if self.install == "pypi":
            return f"flatgap=={self.version}"
        return f"flatgap @ git+{self.url}@{self.tag}"

    def project_urls(self) -> dict[str, str]:
        return {
            "Homepage": self.pages,
            "Source": self.url,
            "Issues": f"{self.url}/issues",
            "Colab": f"https://colab.research.google.com/github/{self.slug}/blob/{self.tag}/chapters/in_numpy/tensors_and_layout.ipynb",
        }


def _config_text(root: Path) -> str:
    return (Path(root) / CONFIG).read_text(encoding="utf-8")


def package_version(root: Path = ROOT) -> str:
    """``__version__`` of ``flatgap/__init__.py``: the one place the version is set."""
    text = (Path(root) / "flatgap" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    if not match:
        raise SettingError('flatgap/__init__.py sets no __version__ = "X.Y.Z"')
    return match.group(1)


def setting(root: Path = ROOT) -> Setting:
    """The setting, validated."""
    config = yaml.safe_load(_config_text(root))
    url = str((config.get("repository") or {}).get("url", ""))
    if not url.startswith("https://github.com/") or not SLUG.match(url.removeprefix("https://github.com/")):
        raise SettingError(f"{CONFIG}: repository.url must be https://github.com/OWNER/NAME, found {url!r}")
    install = config.get("flatgap_install")
    if install not in INSTALL_SOURCES:
        raise SettingError(f"{CONFIG}: flatgap_install must be one of {INSTALL_SOURCES}, found {install!r}")
    return Setting(url=url, install=install, version=package_version(root))


# --- the derived files -------------------------------------------------------------------------------------------

def _set_yaml_scalar(text: str, pattern: str, value: str, what: str) -> str:
    new, count = re.subn(pattern, lambda m: m.group(1) + value, text, count=1, flags=re.M)
    if count != 1:
        raise SettingError(f"{CONFIG}: found no line for {what} to rewrite")
    return new


def config_text(root: Path, s: Setting) -> str:
    """``_config.yml`` with ``repository.branch`` set to the release tag."""
    return _set_yaml_scalar(_config_text(root), r"^(  branch: ).*$", s.tag, "repository.branch")


def pyproject_text(root: Path, s: Setting) -> str:
    """``pyproject.toml`` with its ``[project.urls]`` table derived from the setting."""
    text = (Path(root) / PYPROJECT).read_text(encoding="utf-8")
    table = "[project.urls]\n" + "".join(f'{key} = "{value}"\n' for key, value in s.project_urls().items())
    new, count = re.subn(r"^\[project\.urls\]\n(?:[^\[\n].*\n)*", table, text, count=1, flags=re.M)
    if count != 1:
        raise SettingError(f"{PYPROJECT}: has no [project.urls] table to rewrite")
    return new


LINK = re.compile(r"<!-- (?P<key>[a-z]+) -->.*?<!-- /(?P=key) -->", re.S)


def package_readme_text(root: Path, s: Setting) -> str:
    """``PACKAGE.md`` with the text between ``<!-- key -->`` and ``<!-- /key -->`` derived from the setting."""
    values = {"pages": s.pages, "source": s.url, "colab": s.project_urls()["Colab"], "install": s.requirement}
    text = (Path(root) / PACKAGE_README).read_text(encoding="utf-8")

    def replace(match: re.Match) -> str:
        if match["key"] not in values:
            raise SettingError(f"{PACKAGE_README}: unknown marker <!-- {match['key']} -->")
        return f"<!-- {match['key']} -->{values[match['key']]}<!-- /{match['key']} -->"

    return LINK.sub(replace, text)


def derived_texts(root: Path = ROOT) -> dict[Path, str]:
    """Every derived file, as the setting says it should read (notebooks included)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import nbtools

    s = setting(root)
    texts = {
        Path(root) / CONFIG: config_text(root, s),
        Path(root) / PYPROJECT: pyproject_text(root, s),
        Path(root) / PACKAGE_README: package_readme_text(root, s),
    }
    for path in nbtools.all_notebooks(root):
        texts[path] = nbtools.notebook_with_setup_cell(path, s)
    return texts


def check(root: Path = ROOT) -> list[str]:
    """The derived files that differ from what the setting says (relative paths); empty when all agree."""
    return [str(path.relative_to(root)) for path, text in derived_texts(root).items()
            if path.read_text(encoding="utf-8") != text]


def sync(root: Path = ROOT) -> list[str]:
    """Rewrite every derived file that differs; returns their relative paths."""
    changed = []
    for path, text in derived_texts(root).items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(str(path.relative_to(root)))
    return changed


def upstream_mentions(root: Path, old_slug: str) -> list[str]:
    """Files (tracked by git, or every file when ``root`` is no git checkout) that still name ``old_slug``."""
    import subprocess

    listed = subprocess.run(["git", "-C", str(root), "ls-files"], capture_output=True, text=True)
    files = listed.stdout.split() if listed.returncode == 0 else [
        str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file() and ".git" not in p.parts]
    hits = []
    for name in files:
        path = Path(root) / name
        try:
            if old_slug in path.read_text(encoding="utf-8"):
                hits.append(name)
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
    return hits


def fork(root: Path, slug: str) -> list[str]:
    """Point the course at ``github.com/<slug>``: rewrite the setting, then everything derived; check the result.

    A fork installs its own release tag (``flatgap_install: git``): ``flatgap`` on PyPI is upstream's package.

    Raises:
        SettingError: ``slug`` is not OWNER/NAME, or a file still names the old repository afterwards.
    """
    if not SLUG.match(slug):
        raise SettingError(f"expected the repository as OWNER/NAME (e.g. alice/flatgap-book), got {slug!r}")
    old = setting(root)
    text = _config_text(root)
    text = _set_yaml_scalar(text, r"^(  url: ).*$", f"https://github.com/{slug}", "repository.url")
    text = _set_yaml_scalar(text, r"^(flatgap_install: ).*$", "git", "flatgap_install")
    (Path(root) / CONFIG).write_text(text, encoding="utf-8")
    changed = sync(root)
    if CONFIG not in changed:
        changed.insert(0, CONFIG)
    if stale := check(root):
        raise SettingError(f"after the rewrite these files still differ from the setting: {stale}")
    if old.slug != slug and (left := upstream_mentions(root, old.slug)):
        raise SettingError(f"these files still name {old.slug}; edit them by hand: {left}")
    return changed


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["fork"] and len(argv) == 2:
            changed = fork(ROOT, argv[1])
            s = setting()
            print(f"rewrote {len(changed)} files for {s.url} (set-up cell installs {s.requirement!r}; "
                  f"launch buttons open {s.tag}):")
            print("\n".join(f"  {name}" for name in changed))
            print(f"checked: every derived value agrees with the setting, and no file names the old repository.\n"
                  f"Next: commit, push, then tag the release: git tag {s.tag} && git push origin {s.tag}")
            return 0
        if argv == ["sync"]:
            changed = sync()
            print("\n".join(f"rewrote {name}" for name in changed) or "nothing to rewrite")
            return 0
        if argv == ["check"]:
            stale = check()
            for name in stale:
                print(f"differs from the setting: {name} (run `python tools/repository.py sync`)")
            return 1 if stale else 0
    except SettingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
