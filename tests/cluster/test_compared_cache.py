"""The run's training computes each partition's comparisons once; the clustering batches read them back
(data_platform.cluster.compared_cache) and cluster exactly as when they compute them themselves."""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_pipeline_parallel import _outputs


@pytest.fixture
def generated(db):
    from data_platform.generate.output import load_database
    from data_platform.generate.population import generate

    load_database(db, generate(1500, seed=11))
    db.commit()
    return db


def _trained(run_id: str) -> list[list[str]]:
    from data_platform import pipeline

    pipeline.start_run(run_id, {"model": "em", "dry_run": True})
    pipeline.build_selection(run_id)
    assert pipeline.train_model(run_id)["fitted"]
    return pipeline.plan(run_id, 2)


def test_batches_read_the_trainings_comparisons_and_cluster_as_without_them(generated):
    from data_platform import pipeline, settings
    from data_platform.cluster.compared_cache import drop_run, run_key

    batches = _trained("cached")
    folder = settings.LOCAL_DIR / "compared" / run_key(generated, "cached")
    generated.commit()
    written = sorted(p.name for p in folder.glob("*.npz"))
    assert len(written) > 10  # one entry per training partition (all of them: a small selection)
    cached = [pipeline.cluster("cached", b) for b in batches]
    assert sum(r["stage_seconds"].get("cached_partitions", 0) for r in cached) == len(written)

    batches_again = _trained("computed")
    drop_run(generated, "computed")  # the batches compute their comparisons themselves
    generated.commit()
    computed = [pipeline.cluster("computed", b) for b in batches_again]
    assert all(r["stage_seconds"].get("cached_partitions", 0) == 0 for r in computed)
    assert [r["pairs"] for r in cached] == [r["pairs"] for r in computed]

    members_c, pairs_c = _outputs(generated, "cached")
    members_x, pairs_x = _outputs(generated, "computed")
    assert members_c == members_x and pairs_c == pairs_x and len(pairs_c) > 20

    pipeline.finish("cached")
    assert not folder.exists()  # a finished run's comparisons are removed


def test_an_entry_is_read_only_for_the_rows_and_the_run_it_was_computed_for(generated):
    from data_platform import pipeline
    from data_platform.cluster.compared_cache import ComparedCache
    from data_platform.cluster.comparisons import Compared

    pipeline.start_run("entries", {"model": "em", "dry_run": True})
    generated.commit()
    cache = ComparedCache.for_run(generated, "entries")
    ids = np.array(["a", "b", "c"])
    compared = Compared(np.array([0, 1]), np.array([1, 2]), np.zeros((2, Compared.empty().levels.shape[1]), np.int8),
                        np.full((2, Compared.empty().tf.shape[1]), np.nan), np.array([12.5, np.nan]))
    cache.put("75", ids, compared)
    back = cache.get("75", ids)
    assert back is not None and np.array_equal(back.j, compared.j)
    assert np.array_equal(back.distance_m, compared.distance_m, equal_nan=True)
    assert cache.get("75", np.array(["a", "c", "b"])) is None  # other rows (row indices would be wrong)
    assert cache.get("13", ids) is None
    pipeline.start_run("entries", {"model": "em", "dry_run": True})  # the run re-opened: a new start
    generated.commit()
    assert ComparedCache.for_run(generated, "entries").get("75", ids) is None


def test_a_rebuilt_selection_drops_the_runs_comparisons(generated):
    """A selection rebuilt within the run (an Airflow task cleared) may hold new values for the same ids."""
    from data_platform import pipeline, settings
    from data_platform.cluster.compared_cache import run_key

    _trained("rebuilt")
    folder = settings.LOCAL_DIR / "compared" / run_key(generated, "rebuilt")
    generated.commit()
    assert any(folder.glob("*.npz"))
    pipeline.build_selection("rebuilt")
    assert not folder.exists()
