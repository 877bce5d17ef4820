"""The redesign of the engine (issue #11) changed no behaviour: golden outputs, byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

from gridgov.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEPT17 = ROOT / "examples" / "scenarios" / "sept17.toml"

#: sha256 of metrics.csv of ``gridgov simulate examples/scenarios/sept17.toml --seed 17``,
#: recorded before the engine was split into planners, one reducer and a kernel.
SEPT17_SEED17_METRICS = "5830c757d781a8056306a41eeaa007b8775b1d00dbcb493f68448da7b9251acf"


class TestGolden:
    """Figures the redesign must keep."""

    def test_sept17_metrics_are_byte_identical(self, tmp_path: Path) -> None:
        """metrics.csv of the 17 September scenario at seed 17 has the recorded digest."""
        out = tmp_path / "run"
        code = main(
            ["simulate", str(SEPT17), "--out", str(out), "--seed", "17", "--quiet", "--no-plots"]
        )
        assert code == 0
        digest = hashlib.sha256((out / "metrics.csv").read_bytes()).hexdigest()
        assert digest == SEPT17_SEED17_METRICS
