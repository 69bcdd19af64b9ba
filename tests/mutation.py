"""`make mutate`: mutation testing (mutmut 3) of the modules that carry the product's promises.

Each module runs on its own, against the few test files that guard it (no browser): a small
module takes minutes, a large one (hub/sync/outbox.py, ~490 mutants) an hour or more. A module works
in `.mutation/<module>/`: a folder whose entries link to the repository's, with a pyproject.toml
that adds mutmut's settings for this module only (mutmut reads them from the working folder and
copies the sources into `mutants/` there, so the checkout is never touched). Every run starts fresh:
a test added since the last run counts.

    python tests/mutation.py                      # every module in MODULES, in order
    python tests/mutation.py hub/money.py         # one module (`make mutate MODULE=hub/money.py`)
    python tests/mutation.py --list               # the table of modules and their tests

It prints each module's score (killed, timeouts included, out of all its mutants: one that no
selected test reaches counts as a survivor) and the diff of every surviving mutant; docs/testing.md
keeps the scores and explains the survivors that no test can kill.

A module whose code has a PostgreSQL path of its own (`databases` in MODULES, or `--database`) is
run once per database, in a folder of its own each; its score then counts a mutant killed if either
run killed it, as `make test` runs the suite on both. The PostgreSQL run uses the server of
HUB_TEST_DATABASE (the suite's default, 127.0.0.1:5432, when that is not a postgresql URL).

This file is also a pytest plugin, loaded (`-p tests.mutation`) in those runs only: every mutant
is a new pytest session, and migrating its database from scratch cost more than its tests, so the
first session's migrated database is copied instead (`pytest_sessionstart` below): SQLite's file,
or PostgreSQL's database made the template of the next sessions' (`CREATE DATABASE … TEMPLATE`).
Every PostgreSQL database a run makes is named `mut_<the run's process id>_…` and dropped after.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
# Copied into mutants/ as sources (mutmut only mutates the one module named in `only_mutate`).
SOURCES = ("hub", "connectors", "mappings", "config")
# Left out of a module's folder: the git data, the virtualenv and the mutation runs themselves.
NOT_LINKED = {".git", ".venv", ".mutation", "pyproject.toml", "mutants"}
# Where a module's run keeps its migrated SQLite database (set for mutmut by `run`).
TEMPLATE_ENV = "HUB_MUTATION_DB_TEMPLATE"
# In a PostgreSQL run: the prefix of the databases it makes; its template is `<prefix>template`.
POSTGRES_ENV = "HUB_MUTATION_PG_PREFIX"
POSTGRES_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432"
# The prefix tests/conftest.py gives the session's database (`database_url`); the other databases
# tests make for themselves (an empty one to migrate, say) are left as they are.
SESSION_PREFIX = "crmhub_test"
DATABASES = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Module:
    path: str
    tests: tuple[str, ...]
    # The databases to run it on: "postgresql" too for a module with a path of its own there,
    # which the SQLite run never reaches.
    databases: tuple[str, ...] = ("sqlite",)


# Each module and the tests that guard it: the files that call it directly or through the routes
# built on it. Kept small on purpose; a survivor is killed by a test in one of these files. The
# order is the order of `make mutate` (docs/testing.md says which have been run and their scores).
MODULES: tuple[Module, ...] = (
    Module(
        "hub/money.py",
        (
            "tests/integration/test_deals.py",
            "tests/integration/test_finance_totals.py",
            "tests/unit/test_money.py",
        ),
    ),
    Module(
        "hub/sync/outbox.py",
        (
            "tests/integration/test_hand_over.py",
            "tests/integration/test_sync_batches.py",
            "tests/integration/test_failed_counts.py",
            "tests/integration/test_record_batch.py",
            "tests/integration/test_idempotency.py",
            "tests/integration/test_outbox_lease.py",
        ),
    ),
    Module(
        "hub/invoicing.py",
        (
            "tests/integration/test_deals.py",
            "tests/integration/test_sync_engine.py",
            "tests/integration/test_invoice_state.py",
            "tests/integration/test_target_arithmetic.py",
            "tests/integration/test_won_races.py",
            "tests/integration/test_invoicing.py",
        ),
    ),
    Module(
        "hub/services/deals.py",
        (
            "tests/integration/test_deals.py",
            "tests/integration/test_crm_api.py",
            "tests/integration/test_won_races.py",
            "tests/integration/test_deal_rules.py",
            "tests/integration/test_etags.py",
            "tests/integration/test_hostile_input.py",
        ),
    ),
    Module(
        "hub/sync/push.py",
        (
            "tests/integration/test_record_batch.py",
            "tests/integration/test_sync_engine.py",
            "tests/integration/test_sync_batches.py",
            "tests/integration/test_push_paths.py",
        ),
    ),
    Module(
        "hub/sync/push_chain.py",
        (
            "tests/integration/test_push_chain.py",
            "tests/integration/test_push_chain_paths.py",
            "tests/integration/test_push_chain_edges.py",
        ),
    ),
    Module(
        "hub/sync/status.py",
        (
            "tests/integration/test_invoice_state.py",
            "tests/integration/test_sync_engine.py",
            "tests/integration/test_status_pull.py",
            "tests/integration/test_state_changes.py",
            "tests/integration/test_switched_off_connections.py",
        ),
    ),
    Module(
        "hub/sync/cancel.py",
        (
            "tests/integration/test_credit_notes.py",
            "tests/integration/test_sync_engine.py",
            "tests/integration/test_hand_over.py",
            "tests/unit/test_settle.py",
            "tests/integration/test_cancel_event.py",
        ),
    ),
    Module(
        "hub/inventory/writers.py",
        (
            "tests/integration/test_stock_writers.py",
            "tests/integration/test_first_pull_paths.py",
            "tests/integration/test_inventory.py",
            "tests/integration/test_stock_keys_paths.py",
        ),
        # The COPY writers (FirstPullWriter, StagedWriter) are PostgreSQL's; SQLite's is ChunkWriter.
        databases=DATABASES,
    ),
    Module(
        "hub/inventory/alerts.py",
        (
            "tests/integration/test_stock_writers.py",
            "tests/integration/test_inventory.py",
            "tests/integration/test_alert_delivery.py",
            "tests/integration/test_alert_evaluation.py",
        ),
    ),
    Module(
        "hub/auth.py",
        (
            "tests/integration/test_auth.py",
            "tests/integration/test_permissions.py",
        ),
    ),
    Module(
        "hub/login_throttle.py",
        ("tests/integration/test_auth.py",),
    ),
    Module(
        "hub/permissions.py",
        (
            "tests/integration/test_permissions.py",
            "tests/integration/test_one_policy.py",
            "tests/integration/test_auth.py",
        ),
    ),
    Module(
        "hub/security_headers.py",
        ("tests/integration/test_security_headers.py",),
    ),
    # CSRF is Flask-WTF's CSRFProtect; this module decides which requests it checks and answers a
    # failed check (its routes are decorated, which mutmut leaves alone).
    Module(
        "hub/web.py",
        (
            "tests/integration/test_auth.py",
            "tests/integration/test_permissions.py",
            "tests/integration/test_csrf_everywhere.py",
        ),
    ),
    Module(
        "hub/exchange/__init__.py",
        (
            "tests/integration/test_onec_exchange.py",
            "tests/integration/test_hostile_input.py",
            "tests/integration/test_onec_endpoint.py",
        ),
    ),
    Module(
        "hub/exchange/catalog.py",
        (
            "tests/integration/test_onec_exchange.py",
            "tests/integration/test_onec_catalog_apply.py",
            "tests/integration/test_onec_endpoint.py",
        ),
    ),
    Module(
        "hub/exchange/orders.py",
        (
            "tests/integration/test_onec_exchange.py",
            "tests/integration/test_invoice_state.py",
            "tests/integration/test_onec_orders_apply.py",
        ),
    ),
    Module(
        "hub/exchange/files.py",
        (
            "tests/unit/test_exchange_files.py",
            "tests/integration/test_onec_exchange.py",
        ),
    ),
    Module(
        "hub/exchange/sessions.py",
        (
            "tests/integration/test_onec_exchange.py",
            "tests/integration/test_onec_sessions.py",
        ),
    ),
    Module(
        "connectors/onec/commerceml_reader.py",
        (
            "tests/unit/test_commerceml.py",
            "tests/unit/test_commerceml_reader.py",
            "tests/integration/test_onec_exchange.py",
        ),
    ),
    Module(
        "connectors/onec/commerceml.py",
        (
            "tests/unit/test_commerceml.py",
            "tests/unit/test_commerceml_reader.py",
            "tests/integration/test_onec_exchange.py",
        ),
    ),
    Module(
        "connectors/onec/commerceml_orders.py",
        (
            "tests/unit/test_commerceml.py",
            "tests/unit/test_commerceml_orders.py",
            "tests/integration/test_onec_exchange.py",
        ),
    ),
    Module(
        "connectors/onec/exchange.py",
        (
            "tests/unit/test_commerceml.py",
            "tests/unit/test_onec_exchange_connector.py",
            "tests/integration/test_onec_exchange.py",
        ),
    ),
)


def module_named(path: str) -> Module:
    for module in MODULES:
        if module.path == path:
            return module
    known = ", ".join(m.path for m in MODULES)
    raise SystemExit(f"{path} is not in tests/mutation.py MODULES ({known})")


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def prepare(
    module: Module, left_out: frozenset[str] = frozenset(), database: str = "sqlite", only: tuple[str, ...] = ()
) -> Path:
    """A fresh working folder for `module`: links to the repository's entries and its own pyproject."""
    folder = WORK / module.path.replace("/", "_").removesuffix(".py")
    if database != "sqlite":
        folder = folder.with_name(f"{folder.name}-{database}")
    if left_out:  # a run of the score before some tests must not share the folder of a full one
        folder = folder.with_name(folder.name + "-without-" + "-".join(sorted(Path(t).stem for t in left_out)))
    if only:  # nor a re-run of some mutants
        folder = folder.with_name(folder.name + "-only")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in NOT_LINKED:
            (folder / entry.name).symlink_to(entry)
    missing = [t for t in module.tests if not (ROOT / t).exists()]
    if missing:
        raise SystemExit(f"{module.path}: no such test file {missing} (tests/mutation.py MODULES)")
    tests = [t for t in module.tests if t not in left_out]
    settings = "\n".join(
        [
            "",
            "[tool.mutmut]",
            f"source_paths = {_toml_list([s for s in SOURCES if (ROOT / s).is_dir()])}",
            f"only_mutate = {_toml_list([module.path])}",
            # docs/ and the like: tests read them relative to the repository root, which is mutants/.
            f"also_copy = {_toml_list(sorted(e.name for e in ROOT.iterdir() if _also_copied(e)))}",
            f"pytest_add_cli_args_test_selection = {_toml_list(tests)}",
            'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "tests.mutation"]',
            "",
        ]
    )
    (folder / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + settings)
    # mutmut adds mutants/ to sys.path before it copies the tests there; Python's cached listing of
    # the then empty folder would hide the `tests` package from the conftest, so they go in first.
    shutil.copytree(ROOT / "tests", folder / "mutants" / "tests")
    return folder


def _also_copied(entry: Path) -> bool:
    if entry.name in NOT_LINKED or entry.name in SOURCES or entry.name.startswith("."):
        return False
    # node_modules and the like are large and only the browser tests (never selected here) use them.
    return entry.name not in {"node_modules", "instance", "test-artifacts", "bench"}


def run(
    module: Module,
    max_children: int,
    left_out: frozenset[str] = frozenset(),
    databases: tuple[str, ...] | None = None,
    only: tuple[str, ...] = (),
) -> dict[str, int]:
    """The module's run on each of its databases; the counts of a mutant killed on either."""
    codes: dict[str, int | None] = {}
    for database in databases or module.databases:
        found = run_on(module, database, max_children, left_out, only)
        for name, code in found.items():
            if name not in codes or _status(codes[name]) not in ("killed", "timeout"):
                codes[name] = code
    if len(databases or module.databases) > 1 and codes:
        print(f"   {module.path}: {_score_line(count(codes))} on either database", flush=True)
    return count(codes) if codes else {}


def run_on(
    module: Module, database: str, max_children: int, left_out: frozenset[str], only: tuple[str, ...]
) -> dict[str, int | None]:
    folder = prepare(module, left_out, database, only)
    env = dict(os.environ, PYTHONPATH=str(folder / "mutants"), **{TEMPLATE_ENV: str(folder / "migrated.db")})
    if database == "postgresql":
        base = _postgres_server()
        env["HUB_TEST_DATABASE"] = base
        env[POSTGRES_ENV] = f"mut_{os.getpid()}_"
    else:
        # A PostgreSQL URL in the caller's environment names the server for the PostgreSQL run only.
        env["HUB_TEST_DATABASE"] = "sqlite"
    mutmut = [str(Path(sys.executable).with_name("mutmut"))]
    print(f"== {module.path} on {database}: {len(module.tests)} test files", flush=True)
    try:
        subprocess.run(
            ["nice", "-n", "15", *mutmut, "run", "--max-children", str(max_children), *only],
            cwd=folder,
            env=env,
            check=False,
        )
        return report(module, folder, mutmut, env, database, only)
    finally:
        if database == "postgresql":
            _drop_databases(env["HUB_TEST_DATABASE"], env[POSTGRES_ENV])


def _postgres_server() -> str:
    url = os.environ.get("HUB_TEST_DATABASE", "")
    return url.rstrip("/") if url.startswith("postgresql") else POSTGRES_DEFAULT


def _admin(base: str) -> str:
    return base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"


def _drop_databases(base: str, prefix: str) -> None:
    """The run's databases: its template, and the copies of mutants whose session was killed."""
    import psycopg

    with psycopg.connect(_admin(base), autocommit=True) as conn:
        names = conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)).fetchall()
        for (name,) in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _status(code: int | None) -> str:
    if code in (1, 3):
        return "killed"
    if code == 0:
        return "survived"
    if code in (5, 33):
        return "no tests"
    if code in (24, -24, 36, 152, 255):
        # A mutant that makes the tests hang is caught: the run would never finish green.
        return "timeout"
    return "other"


def count(codes: dict[str, int | None]) -> dict[str, int]:
    counts = {"killed": 0, "survived": 0, "no tests": 0, "timeout": 0, "other": 0}
    for code in codes.values():
        counts[_status(code)] += 1
    return counts | {"total": len(codes)}


def _score_line(counts: dict[str, int]) -> str:
    caught = counts["killed"] + counts["timeout"]
    total = counts["total"]
    score = 100 * caught / total if total else 0
    details = ", ".join(f"{v} {k}" for k, v in counts.items() if v and k != "total")
    return f"{score:.1f} % killed ({caught}/{total}; {details})"


def report(
    module: Module,
    folder: Path,
    mutmut: list[str],
    env: dict[str, str],
    database: str = "sqlite",
    only: tuple[str, ...] = (),
) -> dict[str, int | None]:
    """Prints the survivors and the score of one run; its exit codes by mutant."""
    meta = folder / "mutants" / (module.path + ".meta")
    if not meta.exists():
        print(f"   {module.path}: no results (mutmut failed before running mutants)")
        return {}
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    if only:  # a re-run of some mutants: the others were not run
        codes = {n: c for n, c in codes.items() if any(fnmatch.fnmatchcase(n, g) for g in only)}
    for name, code in sorted(codes.items()):
        if _status(code) in ("survived", "no tests"):
            shown = subprocess.run([*mutmut, "show", name], cwd=folder, env=env, capture_output=True, text=True)
            print(shown.stdout.rstrip())
    print(f"   {module.path} on {database}: {_score_line(count(codes))}", flush=True)
    return codes


def pytest_sessionstart(session) -> None:
    """In a mutation run: the conftest's `upgrade` migrates once, then copies that database."""
    template = os.environ.get(TEMPLATE_ENV)
    if not template:
        return
    from tests import conftest

    if not getattr(conftest.upgrade, "copies_template", False):
        conftest.upgrade = _migrated_once(conftest.upgrade, Path(template))
    prefix = os.environ.get(POSTGRES_ENV)
    if prefix and not getattr(conftest.scratch_database, "copies_template", False):
        conftest.scratch_database = _scratch_from_template(conftest.scratch_database, prefix)


# The PostgreSQL databases this session made for conftest's `database_url`: name -> made from the
# template (already migrated) or empty (to be migrated, then made the template).
_SESSION_DATABASES: dict[str, bool] = {}


def _scratch_from_template(scratch_database, prefix: str):
    """conftest's `scratch_database`, which makes the session's database a copy of the run's
    migrated template once there is one (the first session, mutmut's run of the unmutated code,
    makes it), and leaves the other databases tests make to the original."""
    import psycopg

    @contextmanager
    def scratch_or_copy(base: str, made_for: str) -> Iterator[str]:
        if made_for != SESSION_PREFIX:
            with scratch_database(base, made_for) as url:
                yield url
            return
        name = f"{prefix}{uuid.uuid4().hex[:10]}"
        with psycopg.connect(_admin(base), autocommit=True) as conn:
            template = prefix + "template"
            copied = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone() is not None
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if copied else ""))
        _SESSION_DATABASES[name] = copied
        try:
            yield f"{base}/{name}"
        finally:
            with psycopg.connect(_admin(base), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    scratch_or_copy.copies_template = True
    return scratch_or_copy


def _migrated_once(upgrade, template: Path):
    def upgrade_or_copy(directory: str) -> None:
        from hub.extensions import db

        if db.engine.dialect.name == "postgresql":
            _upgrade_postgres(upgrade, directory)
            return
        if db.engine.dialect.name != "sqlite":
            upgrade(directory=directory)
            return
        target = Path(db.engine.url.database)
        db.engine.dispose()
        if template.exists():
            shutil.copyfile(template, target)
            return
        upgrade(directory=directory)
        db.engine.dispose()  # the last connection's close folds the WAL into the file
        shutil.copyfile(target, template)

    upgrade_or_copy.copies_template = True
    return upgrade_or_copy


def _upgrade_postgres(upgrade, directory: str) -> None:
    import psycopg

    from hub.extensions import db

    name = db.engine.url.database
    copied = _SESSION_DATABASES.get(name)
    if copied:
        return
    upgrade(directory=directory)
    if copied is None:  # not the session's database
        return
    # The template must have no connection while it is copied, nor while it is made.
    db.engine.dispose()
    base = db.engine.url.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        template = os.environ[POSTGRES_ENV] + "template"
        conn.execute(f'CREATE DATABASE "{template}" TEMPLATE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module paths as in MODULES (default: all)")
    parser.add_argument("--max-children", type=int, default=1, help="mutmut's parallel test runs (machine is shared)")
    parser.add_argument("--list", action="store_true", help="print the modules and their tests")
    parser.add_argument(
        "--leave-out", action="append", default=[], help="a test file not to run (the score before it was written)"
    )
    parser.add_argument(
        "--database",
        action="append",
        choices=DATABASES,
        help="run on this database (repeatable) instead of the module's own (MODULES' `databases`)",
    )
    parser.add_argument(
        "--only", action="append", default=[], help="run only the mutants of this name or glob (repeatable)"
    )
    args = parser.parse_args()
    if args.list:
        for module in MODULES:
            print(f"{module.path} ({', '.join(module.databases)})", *module.tests, sep="\n    ")
        return 0
    chosen = [module_named(p) for p in args.modules] if args.modules else list(MODULES)
    databases = tuple(args.database) if args.database else None
    scores = {m.path: run(m, args.max_children, frozenset(args.leave_out), databases, tuple(args.only)) for m in chosen}
    print("\n== mutation scores")
    for path, counts in scores.items():
        if not counts:
            print(f"{path:40} failed")
            continue
        caught = counts["killed"] + counts["timeout"]
        print(f"{path:40} {100 * caught / counts['total']:5.1f} %  ({caught}/{counts['total']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
