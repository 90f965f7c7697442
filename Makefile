.PHONY: run test lint format bench e2e setup

# The whole system on the embedded default: web, worker, beat, paper broker, Redis.
run:
	@scripts/bootstrap.sh
	@.venv/bin/python scripts/run.py

# The whole test suite (set DATABASE_URL / REDIS_URL to run it on PostgreSQL and Redis).
test:
	@scripts/test.sh

setup:
	@scripts/bootstrap.sh

lint:
	@scripts/bootstrap.sh
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
