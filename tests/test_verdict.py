"""The target's judgement at its boundaries: 99.40% is 9,940 of 10,000, on each of the last 5 epochs."""
import statistics

import pytest

from reports.hold_rates import fitted_hold_rate, margin
from trainer.verdict import LAST_EPOCHS, MAX_EPOCHS, MAX_PARAMS, accuracy_holds, min_last, target_met


def epochs(*correct, total=10_000):
    return [{"epoch": i, "test_correct": c, "test_total": total, "test_accuracy": 100 * c / total}
            for i, c in enumerate(correct, 1)]


def test_9940_of_10000_on_each_of_the_last_5_epochs_passes():
    met, line = target_met(7_000, epochs(9_000, 9_500, 9_940, 9_940, 9_940, 9_940, 9_940))
    assert met and line.startswith("TARGET MET: 7,000 params <= 8,000; 7 epochs <= 15;")
    assert line.endswith("last 5 epochs 99.40 99.40 99.40 99.40 99.40 >= 99.40")


def test_one_epoch_at_9939_fails():
    met, line = target_met(7_000, epochs(9_990, 9_990, 9_939, 9_990, 9_990))
    assert not met and line.startswith("TARGET MISSED") and "< 99.40" in line


def test_an_early_miss_outside_the_window_does_not_count():
    assert target_met(7_000, epochs(9_000, 9_940, 9_950, 9_960, 9_970, 9_980))[0]


def test_16_epochs_fail():
    met, line = target_met(7_000, epochs(*[9_990] * (MAX_EPOCHS + 1)))
    assert not met and "16 epochs > 15" in line


def test_8001_parameters_fail_and_8000_pass():
    assert not target_met(MAX_PARAMS + 1, epochs(*[9_990] * 5))[0]
    assert "8,001 params > 8,000" in target_met(MAX_PARAMS + 1, epochs(*[9_990] * 5))[1]
    assert target_met(MAX_PARAMS, epochs(*[9_990] * 5))[0]


def test_fewer_than_5_epochs_fail():
    assert not target_met(7_000, epochs(*[9_990] * (LAST_EPOCHS - 1)))[0]


def test_other_test_set_sizes_are_judged_exactly():
    assert target_met(7_000, epochs(*[497] * 5, total=500))[0]  # 99.40% of 500 is 497
    assert not target_met(7_000, epochs(*[496] * 5, total=500))[0]


@pytest.mark.parametrize("accuracy,holds", [(99.4, True), (99.39, False),
                                            (99.39999999999999, True), (100.0, True)])
def test_a_rounded_percentage_is_judged_as_its_count(accuracy, holds):
    assert accuracy_holds(accuracy) is holds


def test_min_last_is_the_lowest_of_the_window():
    assert min_last(epochs(9_000, 9_950, 9_941, 9_960, 9_970, 9_980)) == pytest.approx(99.41)


def test_a_margin_counts_images_over_the_line():
    assert [margin(a) for a in (99.43, 99.40, 99.39, 99.00)] == [3, 0, -1, -40]


@pytest.mark.slow
def test_the_fitted_hold_rate_on_margins_whose_answer_is_known():
    rate, low, high = fitted_hold_rate([-3, -2, -1, 0, 1, 2])  # mean -0.5: the line cuts the fit in half
    assert rate == pytest.approx(0.5) and low < 0.5 < high
    normal = statistics.NormalDist(4, 2)
    sample = [normal.inv_cdf((i + 0.5) / 400) for i in range(400)]  # 400 seeds spread as N(4, 2) is
    rate, low, high = fitted_hold_rate(sample)
    assert rate == pytest.approx(1 - normal.cdf(-0.5), abs=0.003) and low < rate < high and high - low < 0.03
    assert fitted_hold_rate([5, 5, 5]) == (1.0, 1.0, 1.0) and fitted_hold_rate([-2, -2]) == (0.0, 0.0, 0.0)
    assert fitted_hold_rate([1, 4, -2, 6]) == fitted_hold_rate([1, 4, -2, 6])  # fixed draws: the same each time
    with pytest.raises(ValueError, match="at least two seeds"):
        fitted_hold_rate([3])
