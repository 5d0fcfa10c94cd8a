from cityloop_shared.runtime.migrations import run_env

run_env()
