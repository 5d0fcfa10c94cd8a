from cityloop_shared.service.migrations import run_env

run_env()
