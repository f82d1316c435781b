# `make lint`: ruff, mypy (zero errors) and the import-layering contracts.
# `make check`: lint, then exactly the README's test command.
# `make mutate`: mutation testing before a release (not in CI; needs `pip install -e '.[test,mutate]'`).
PY ?= python
TC := build/typecheck

.PHONY: lint check typecheck-tree mutate
lint: typecheck-tree
	$(PY) -m ruff check .
	MYPYPATH=$(TC) $(PY) -m mypy -p tracker
	PYTHONPATH=$(TC) lint-imports

# The folders logger/, store/, tui/ install as one package (tracker, tracker.store, tracker.tui);
# mypy follows import names, so give it that shape as symlinks.
typecheck-tree:
	@rm -rf $(TC) && mkdir -p $(TC)/tracker
	@for f in logger/*; do ln -s "$$PWD/$$f" $(TC)/tracker/; done
	@ln -s "$$PWD/store" $(TC)/tracker/store && ln -s "$$PWD/tui" $(TC)/tracker/tui

check: lint
	$(PY) -m pytest -q -p no:cacheprovider

# Every module in scope, or one: `make mutate MODULE=store/keys.py` (`MODULE="a.py b.py"` for several).
# Workspaces and results in build/mutate/<module>/; tests/MUTATION.md says what the last run found.
JOBS ?= 2
mutate:
	$(PY) tests/mutation/mutate.py --jobs $(JOBS) $(MODULE)
