"""The notebook runner's warm kernel (mlgcn_core.book.notebook.KernelSession): several notebooks
in one kernel, each seeing only its own parameters; a cell error or a dead kernel does not spill
into the next notebook."""

from __future__ import annotations

import nbformat
import pytest

from mlgcn_core.book.notebook import KernelSession, execute

pytestmark = pytest.mark.notebook  # starts real kernels


def _notebook(path, code: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 0", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _text(nb) -> str:
    return "".join(o.get("text", "") for o in nb.cells[-1].outputs)


def test_session_runs_notebooks_in_one_kernel_without_leaking_names(tmp_path):
    nb = _notebook(tmp_path / "p.ipynb", "import os, __main__\n"
                   "print(os.getpid(), x, 'y' in dir(), hasattr(__main__, '__spec__'))\ny = x")
    with KernelSession("python3", tmp_path) as s:
        out = [_text(execute(nb, tmp_path / f"o{i}.ipynb", {"x": i}, session=s)).split() for i in range(3)]
        assert s.runs == 3
    assert len({pid for pid, *_ in out}) == 1  # one kernel for the three notebooks
    # no name of the previous notebook left; the module's own names (multiprocessing's spawn reads
    # __main__.__spec__) kept
    assert [(x, leak, spec) for _, x, leak, spec in out] == [("0", "False", "True"), ("1", "False", "True"),
                                                             ("2", "False", "True")]


def test_a_cell_error_is_the_notebooks_own_and_the_next_runs(tmp_path):
    bad = _notebook(tmp_path / "bad.ipynb", "raise ValueError(f'point {x} fails')")
    good = _notebook(tmp_path / "good.ipynb", "print('ok', x)")
    with KernelSession("python3", tmp_path) as s:
        with pytest.raises(Exception, match="point 1 fails"):
            execute(bad, tmp_path / "o1.ipynb", {"x": 1}, session=s)
        assert _text(execute(good, tmp_path / "o2.ipynb", {"x": 2}, session=s)).split() == ["ok", "2"]


def test_a_dead_kernel_is_started_afresh_for_the_next_notebook(tmp_path):
    die = _notebook(tmp_path / "die.ipynb", "import os\nos._exit(1)")
    pid = _notebook(tmp_path / "pid.ipynb", "import os\nprint(os.getpid())")
    with KernelSession("python3", tmp_path) as s:
        first = _text(execute(pid, tmp_path / "a.ipynb", session=s))
        with pytest.raises(Exception):  # noqa: B017 - whatever the kernel's death raises, it must raise
            execute(die, tmp_path / "b.ipynb", session=s, attempts=1)
        second = _text(execute(pid, tmp_path / "c.ipynb", session=s))
    assert first.strip() and second.strip() and first != second


def test_a_hung_cell_ends_the_book_with_one_line_naming_its_chapter(tmp_path, capsys):
    """A chapter whose cell never returns: ``python -m mlgcn_core.book`` stops within the profile's
    ``cell_timeout`` with one line ``error: chapter …`` and exit status 2 — no traceback."""
    import time

    from mlgcn_core.__main__ import one_line_errors
    from mlgcn_core.book import build

    (tmp_path / "notebooks").mkdir()
    nb = _notebook(tmp_path / "notebooks" / "01_hangs.ipynb", "import time\nwhile True:\n    time.sleep(1)")
    nb_obj = nbformat.read(nb, 4)
    nb_obj.cells[0].source = 'profile = "default"'
    nbformat.write(nb_obj, nb)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n- file: book/executed/01_hangs\n")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "profiles.yaml").write_text("default:\n  parameters: {}\n  cell_timeout: 5\n")
    t0 = time.time()
    rc = one_line_errors(build.main, ["--root", str(tmp_path), "--no-build", "--kernel", "python3"])
    took = time.time() - t0
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1] == ("error: chapter 01_hangs: a cell ran past the profile's cell_timeout of 5 s "
                                   "(book/profiles.yaml); the build stopped there"), err
    assert took < 60, took  # within the timeout (plus a kernel's start and shutdown)
    assert not (tmp_path / "book" / "executed" / "01_hangs.ipynb").exists()
    assert (tmp_path / "book" / "executed" / "01_hangs.failed.ipynb").exists()
