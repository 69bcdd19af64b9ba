"""The job bench/throughput.py's RQ baseline runs: nothing at all."""


def noop() -> None:
    return None
