.PHONY: run test lint format bench e2e setup

# The whole system on the embedded default: web, worker, beat, paper broker, Redis.
run:
	@scripts/bootstrap.sh
	@.venv/bin/python scripts/run.py

# The whole test suite (set DATABASE_URL / REDIS_URL to run it on PostgreSQL and Redis).
test:
	@scripts/test.sh

# Everything a developer needs: the running system plus tests, lint and benches.
setup:
	@scripts/bootstrap.sh dev

# W1–W5 against the whole system on PostgreSQL + Redis; writes bench/RESULTS.md.
bench:
	@scripts/bootstrap.sh dev
	.venv/bin/python bench/run_all.py

# The long proof suites (faults, browser, fuzzing) that do not fit in `make test`.
e2e:
	@JT_E2E=1 scripts/test.sh e2e

lint:
	@scripts/bootstrap.sh dev
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
