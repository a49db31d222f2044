"""`data-platform ingest` and `data-platform replay-server` argument handling."""
from __future__ import annotations

from data_platform.cli import build_parser


def test_ingest_command_against_replay_server(ingest_db, replay, capsys):
    from data_platform.ingest.cli import run

    args = build_parser().parse_args(["ingest", "--base-url", replay.base_url, "--source", "aliapur",
                                      "--source", "sinoe"])
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "aliapur    applied  applied: " in out and "sinoe      applied  applied: " in out
    assert run(args) == 0
    assert "skipped: unchanged since" in capsys.readouterr().out

    replay.set_faults(drop_half=True)
    assert run(args) == 1  # a guard failed: non-zero exit, reason printed
    assert "Treated as a broken feed: nothing applied" in capsys.readouterr().out


def test_ingest_unknown_source(capsys):
    from data_platform.ingest.cli import run

    assert run(build_parser().parse_args(["ingest", "--source", "nope"])) == 2
    assert "unknown source(s) ['nope']" in capsys.readouterr().out


def test_replay_server_fault_arguments():
    from data_platform.ingest.replay_server import _parse_fault

    args = build_parser().parse_args(["replay-server", "--port", "0", "--rows", "10", "--fault", "429=2",
                                      "--fault", "rename=siret:num_siret", "--fault", "drop_half"])
    assert dict(_parse_fault(f) for f in args.fault) == {"429": 2, "rename": {"siret": "num_siret"}, "drop_half": True}
