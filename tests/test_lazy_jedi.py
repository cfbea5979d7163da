"""jedi starts with the first question it must answer: a ``gradguard check`` process
(a worker of ``--jobs``) whose files ask it nothing never imports it, makes no
environment and starts no thread."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from gradguard.resolver import JediResolver


def _run(code: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"GRADGUARD_CACHE_DIR": str(cwd / "cache"), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_check_that_asks_nothing_never_imports_jedi(tmp_path):
    (tmp_path / "train.py").write_text(
        "import torch\nfrom torch import nn\n\n"
        "model = nn.Linear(4, 2)\n"
        "optimizer = torch.optim.SGD(model.parameters, lr=0.1)\n",
        encoding="utf-8",
    )
    out = _run(
        """
        import sys
        from pathlib import Path
        from gradguard.cli.analyse import CheckOptions, check_file
        outcome = check_file(Path("train.py"), CheckOptions())
        print([f.code for f in outcome.report.findings])
        print("jedi" in sys.modules, "parso" in sys.modules)
        """,
        tmp_path,
    )
    assert out.splitlines() == ["['GG101']", "False False"]


def test_the_first_real_question_starts_jedi_with_its_settings(tmp_path):
    (tmp_path / "models.py").write_text(
        "import torch\n\nclass Net(torch.nn.Module):\n    pass\n", encoding="utf-8"
    )
    (tmp_path / "train.py").write_text("from models import Net\n", encoding="utf-8")
    out = _run(
        f"""
        import sys
        from gradguard.resolver import JediResolver
        resolver = JediResolver({str(tmp_path)!r}, timeout=60)
        # Names never given to jedi: a standard-library one, an invalid one.
        resolver.classify("os.path.join", "train.py")
        resolver.classify("not a name", "train.py")
        print("jedi" in sys.modules, resolver._worker is None)
        print(resolver.classify("models.Net", {str(tmp_path / "train.py")!r}).name)
        import jedi
        print(jedi.settings.dynamic_params, jedi.settings.auto_import_modules)
        print(jedi.settings.cache_directory.startswith({str(tmp_path / "cache")!r}))
        """,
        tmp_path,
    )
    assert out.splitlines() == ["False True", "MODULE_CLASS", "False []", "True"]


def test_a_resolver_never_asked_closes_without_starting(tmp_path):
    resolver = JediResolver(str(tmp_path))
    resolver.close()
    assert resolver._worker is None
