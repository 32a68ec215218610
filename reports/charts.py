"""The pictures of many runs: a seed sweep (each seed's lowest of the last 5 epochs, by machine type) and the
frontier (the chance of holding the target against the parameter count). A run's own pictures are the
trainer's (trainer/plots.py). matplotlib is imported only when a picture is drawn.
"""
from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reports.hold_rates import fitted_hold_rate, margin, wilson
from trainer.plots import pyplot
from trainer.verdict import LAST_EPOCHS, TARGET, accuracy_holds

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from trainer.types import RunRecord, TrialLine

    Point = tuple[float, float]
    Box = tuple[float, float, float, float]  # (x0, y0, x1, y1), y upwards
    Sweeps = Mapping[tuple[str, int], Mapping[int, float]]  # (net, params) -> {seed: lowest of the last epochs}

REFERENCE_PARAMS = 6136  # the write-up this project grew from
PUBLIC_SINGLE_RUN = 3762  # a public repo of the same course: 99.52% at epoch 15, one run
FRONTIER_FLOOR = 99.1  # the frontier picture's lowest accuracy: far misses would squash the rest
FULL_SWEEP = 10  # seeds; a sweep stopped short is drawn hollow, off the line
FIT_OFFSET = 40  # parameters: the fitted hold rate is drawn this far right of K/N
# The goal the search aims at (docs/frontier.md): a net this small whose fresh seeds hold this well.
GOAL_PARAMS = 4000
GOAL_FITTED = 85  # %: the hold rate from the fit of the seeds' margins
GOAL_SEEDS = "18 of 20"


SEEDS_YRANGE = (99.2, 99.7)  # one range for every seeds chart, widened only to keep a far seed on it


def seeds_figure(title: str, records: Iterable[RunRecord]) -> Figure:
    """Each seed's lowest test accuracy of the last 5 epochs (the number the target judges) as a dot over
    the window's range, in seed order, a colour per CPU (or GPU) type and a gap between sweeps; each miss
    a black cross named by its seed. `title` names the net and its seeds; the chart adds where they ran.
    Returns the figure."""
    plt = pyplot()
    records = sorted(records, key=lambda r: r["seed"])
    types = list(dict.fromkeys(_device_name(r) for r in records))
    colours = dict(zip(types, itertools.cycle(plt.get_cmap("tab10").colors)))
    fig, ax = plt.subplots(figsize=(7.5, 4.6), layout="constrained")
    seeds, ticks, tick_labels, x = [], [], [], 0  # seeds: (x, lowest and highest of the last 5, record)
    for group in _sweeps(records):
        xs = range(x, x + len(group))
        window = [[m["test_accuracy"] for m in r["epochs"][-LAST_EPOCHS:]] for r in group]
        ax.vlines(xs, [min(w) for w in window], [max(w) for w in window], color=colours[_device_name(group[0])],
                  alpha=0.35, linewidth=2)
        for spot, r, w in zip(xs, group, window):
            held = r["target_met"]
            ax.scatter(spot, min(w), s=24 if held else 60, marker="o" if held else "X", zorder=4,
                       color=colours[_device_name(r)] if held else "black")
            seeds.append((spot, min(w), max(w), r))
        threads = _machine(group[0]).get("threads")
        ticks.append(statistics.fmean(xs))
        threads_text = f"\n{threads} CPU thread{'s' * (threads != 1)}" if threads else ""
        tick_labels.append(_seed_span(group) + threads_text)
        x += len(group) + 1  # a free slot between sweeps
    met = sum(r["target_met"] for r in records)
    handles = [plt.Line2D([], [], linestyle="none", marker="o", color=colours[t],
                          label=f"{t}: {_held(records, t)} held") for t in types]
    if met < len(records):
        handles.append(plt.Line2D([], [], linestyle="none", marker="X", markersize=8, color="black",
                                  label="missed (its seed below it)"))
    handles += [plt.Line2D([], [], color="grey", alpha=0.35, linewidth=2,
                           label=f"the last {LAST_EPOCHS} epochs' range"),
                ax.axhline(TARGET, color="crimson", linestyle="--", linewidth=1, label=f"target {TARGET:.2f}%")]
    low = min([SEEDS_YRANGE[0]] + [lowest - 0.1 for _, lowest, _, _ in seeds])  # room below a miss for its name
    high = max([SEEDS_YRANGE[1]] + [highest + 0.03 for _, _, highest, _ in seeds])
    ax.set(ylim=(low, high), xlim=(-1, x - 1), xticks=ticks, ylabel="test accuracy (%)",
           xlabel=f"fresh seeds, by sweep: a dot is a seed's lowest of the last {LAST_EPOCHS} epochs, "
                  "its bar their range")
    ax.set_xticklabels(tick_labels, fontsize=8)
    ax.secondary_yaxis("right", functions=(lambda a: (a - TARGET) * 100, lambda m: TARGET + m / 100)).set_ylabel(
        "margin (test images)")
    gpu = any(_machine(r).get("device") == "cuda" for r in records)
    where = f"on {types[0]}" if len(types) == 1 else f"pooled over {len(types)} {'GPU' if gpu else 'CPU'} types"
    ax.set_title(f"{title}, {where}: target met on {met}/{len(records)}", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    fig.legend(handles=handles, fontsize=7, ncol=2, loc="outside lower center")
    misses = [(spot, lowest, r) for spot, lowest, _, r in seeds if not r["target_met"]]
    _label_apart(ax, [(spot, lowest) for spot, lowest, _ in misses], [str(r["seed"]) for _, _, r in misses],
                 [(spot, lowest) for spot, lowest, _, _ in seeds], offset=(0, -7), ha="center", va="top",
                 fontsize=7, fontweight="bold")
    return fig


def plot_seeds(title: str, records: Iterable[RunRecord], path: str | Path) -> None:
    fig = seeds_figure(title, records)
    fig.savefig(path, dpi=80)
    pyplot().close(fig)


def _machine(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """Where a run ran: its provenance, or the record itself in runs older than provenance."""
    return record.get("provenance", record)


def _device_name(record: Mapping[str, Any]) -> str:
    return _machine(record).get("device_name") or "machine type not recorded"


def _sweeps(records: Iterable[RunRecord]) -> list[list[RunRecord]]:
    """Runs of consecutive seeds on one machine type and thread count: one command's seeds each."""
    groups: list[list[RunRecord]] = []
    for r in records:
        last = groups[-1][-1] if groups else None
        if last and r["seed"] == last["seed"] + 1 and _setup(r) == _setup(last):
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups


def _setup(record: Mapping[str, Any]) -> tuple[str, int | None]:
    return _device_name(record), _machine(record).get("threads")


def _seed_span(group: Sequence[RunRecord]) -> str:
    first, last = group[0]["seed"], group[-1]["seed"]
    return f"{first}–{last}" if last > first else str(first)


def _held(records: Iterable[RunRecord], device_name: str) -> str:
    mine = [r for r in records if _device_name(r) == device_name]
    return f"{sum(r['target_met'] for r in mine)}/{len(mine)}"


def push_apart(boxes: Sequence[Box], obstacles: Iterable[Box] = (), pad: float = 2.0) -> list[float]:
    """How far up (or down, if negative) each label box must move so that no two labels overlap and none
    covers an obstacle, each moved as little as it can be: the labels are placed highest first, each at
    the nearest free height, just above or below whatever it would cover. Boxes and obstacles are
    (x0, y0, x1, y1), y upwards, in one unit."""
    placed, shifts = list(obstacles), [0.0] * len(boxes)
    for i in sorted(range(len(boxes)), key=lambda i: -boxes[i][3]):
        x0, y0, x1, y1 = boxes[i]
        beside = [b for b in placed if b[0] < x1 + pad and x0 < b[2] + pad]  # what a vertical move can meet
        free = [shift for shift in [0.0] + [b[1] - pad - y1 for b in beside] + [b[3] + pad - y0 for b in beside]
                if not any(b[1] < y1 + shift + pad and y0 + shift < b[3] + pad for b in beside)]
        shifts[i] = min(free, key=lambda shift: (abs(shift), shift))  # a tie goes down
        placed.append((x0, y0 + shifts[i], x1, y1 + shifts[i]))
    return shifts


def _label_apart(ax: Axes, points: Sequence[Point], texts: Sequence[str], spots: Sequence[Point] = (),
                 offset: Point = (0, -7), marker: float = 4, **style: Any) -> None:
    """Each text at `offset` points from its point (data coordinates), moved inside the axes' width and
    then up or down where it would cover another label or a marker at `spots` (`marker` points across
    each way); a moved label keeps a line to its point. Call it last: it measures the drawn figure, then
    holds its layout still."""
    fig: Any  # a whole figure on an Agg canvas, as pyplot's are: not the Figure | SubFigure the stubs allow
    fig = ax.figure
    fig.draw_without_rendering()  # the layout and the scales as they will be saved
    fig.set_layout_engine("none")
    renderer, scale = fig.canvas.get_renderer(), fig.dpi / 72  # pixels per point
    left, right = ax.get_window_extent(renderer).intervalx
    boxes, inward = [], []
    for point, text in zip(points, texts):
        probe = ax.annotate(text, point, textcoords="offset points", xytext=offset, annotation_clip=False, **style)
        x0, y0, x1, y1 = probe.get_window_extent(renderer).extents
        probe.remove()
        inward.append(max(left - x0, 0) + min(right - x1, 0))
        boxes.append((x0 + inward[-1], y0, x1 + inward[-1], y1))
    reach = marker * scale
    obstacles = [(x - reach, y - reach, x + reach, y + reach)
                 for x, y in (ax.transData.transform(spots) if spots else [])]
    leader = dict(arrowstyle="-", color=style.get("color", "black"), linewidth=0.6, alpha=0.6, shrinkB=3)
    for point, text, dx, dy in zip(points, texts, inward, push_apart(boxes, obstacles, pad=scale)):
        moved = (offset[0] + dx / scale, offset[1] + dy / scale)
        ax.annotate(text, point, textcoords="offset points", xytext=moved,
                    arrowprops=leader if max(abs(dx), abs(dy)) > scale else None, annotation_clip=False, **style)


def plot_frontier(trials: Sequence[TrialLine], sweeps: Sweeps, named: Collection[str], path: str | Path,
                  passes_of: Mapping[str, int] | None = None) -> None:
    fig = frontier_figure(trials, sweeps, named, passes_of)
    fig.savefig(path, dpi=100)
    pyplot().close(fig)


def frontier_figure(trials: Sequence[TrialLine], sweeps: Sweeps, named: Collection[str],
                    passes_of: Mapping[str, int] | None = None) -> Figure:
    """The frontier in two panels over one parameter axis. Above, the headline: the share of each
    fresh-seed sweep's seeds that held the target, with its 95% interval and K/N beside it. Below, the
    lowest of the last 5 epochs: tuning trials faint (a dot per seed), each sweep's seeds as dots and its
    mean as a marker, a line through the sweeps' means. Sweeps stopped short of FULL_SWEEP seeds are
    hollow and off the lines; the reference write-up's net's mean is grey and off them too, since it
    is the net to beat, not a point of the search. `named`: the sweeps (by their name in `sweeps`, or a
    mapping of those names to the label shown) named at their points. `passes_of`: each net's forward
    passes per test image; nets of one pass and those of more (test-time shifts) are two series, two
    lines. Returns the figure."""
    plt = pyplot()
    fig, (chance, ax) = plt.subplots(2, 1, figsize=(8, 7.6), sharex=True, gridspec_kw={"height_ratios": [2, 3]},
                                     layout="constrained")
    nets = sorted(sweeps.items(), key=lambda item: (item[0][1], -len(item[1])))
    params = [p for (_, p), _ in nets]
    short = [len(lowest) < FULL_SWEEP for _, lowest in nets]
    reference = [p == REFERENCE_PARAMS and not s for p, s in zip(params, short)]
    on_line = [not (s or r) for s, r in zip(short, reference)]
    views = [(passes_of or {}).get(name, 1) for (name, _), _ in nets]
    series = [("1 pass per test image", [o and v == 1 for o, v in zip(on_line, views)], "tab:red", "D"),
              (f"{max(views)} passes (test-time shifts)", [o and v > 1 for o, v in zip(on_line, views)],
               "tab:purple", "o")]

    def draw(panel: Axes, values: Sequence[float], label: str | None) -> None:
        """The full sweeps as a line of markers per series (one pass; test-time shifts), the short ones
        hollow, the reference's net grey."""
        def pick(keep: Sequence[bool]) -> tuple[list[int], list[float]]:
            return [x for x, k in zip(params, keep) if k], [v for v, k in zip(values, keep) if k]
        for name, keep, color, marker in series:
            if any(keep):
                panel.plot(*pick(keep), color=color, marker=marker, markersize=6, linewidth=1, zorder=4,
                           label=f"{label}, {name}" if label else None)
        panel.scatter(*pick(short), marker="D", s=36, facecolors="white", edgecolors="tab:red", zorder=4,
                      label=f"hollow: a sweep stopped before {FULL_SWEEP} seeds" if label else None)
        panel.scatter(*pick(reference), marker="D", s=36, color="dimgrey", zorder=4,
                      label="grey: the reference's net with model3's recipe" if label else None)
    labels = _chance_panel(chance, nets, draw)
    _accuracy_panel(ax, trials, nets, named, draw)
    for x, style, text in ((REFERENCE_PARAMS, ":", (f"the reference write-up's net ({REFERENCE_PARAMS:,}): "
                                                   "the write-up's claim, one run")),
                           (PUBLIC_SINGLE_RUN, "-.", f"a public claim ({PUBLIC_SINGLE_RUN:,}): one run")):
        for panel in (chance, ax):
            panel.axvline(x, color="grey", linestyle=style, linewidth=1, label=text if panel is ax else None)
    for panel in (chance, ax):
        panel.grid(alpha=0.3)
    fig.legend(handles=chance.get_legend_handles_labels()[0] + ax.get_legend_handles_labels()[0], fontsize=7,
               ncol=2, loc="outside lower center")
    paper = dict(boxstyle="square,pad=0.1", facecolor="white", edgecolor="none", alpha=0.75)  # lines under it fade
    _label_apart(chance, *labels, offset=(9, -3), ha="left", va="top", fontsize=8, color="tab:red", zorder=5,
                 bbox=paper)
    return fig


def _chance_panel(panel: Axes, nets: Sequence[tuple[tuple[str, int], Mapping[int, float]]],
                  draw: Callable[..., None]) -> tuple[Sequence[Point], list[str], Sequence[Point]]:
    """The share of each sweep's seeds that held, its 95% interval as a bar, the fitted hold rate beside
    it, and the goal; returns the K/N labels to place (their points and texts) and the markers to keep
    them off."""
    params = [p for (_, p), _ in nets]
    met = [sum(map(accuracy_holds, lowest.values())) for _, lowest in nets]
    held = [100 * k / len(lowest) for k, (_, lowest) in zip(met, nets)]
    intervals = [wilson(k, len(lowest)) for k, (_, lowest) in zip(met, nets)]
    panel.errorbar(params, held, yerr=[[y - 100 * lo for y, (lo, _) in zip(held, intervals)],
                                       [100 * hi - y for y, (_, hi) in zip(held, intervals)]],
                   fmt="none", ecolor="tab:red", alpha=0.35, capsize=3, zorder=3)
    draw(panel, held, "fresh seeds that held (K/N beside it)")
    fits = [fitted_hold_rate([margin(v) for v in lowest.values()]) for _, lowest in nets]
    shifted = [x + FIT_OFFSET for x in params]  # beside K/N's point, so that the two bars stay apart
    panel.errorbar(shifted, [100 * rate for rate, _, _ in fits],
                   yerr=[[100 * (rate - lo) for rate, lo, _ in fits], [100 * (hi - rate) for rate, _, hi in fits]],
                   fmt="s", markersize=4, color="tab:blue", ecolor="tab:blue", alpha=0.8, capsize=2, zorder=4,
                   label="hold rate from a normal fit of the seeds' margins in images")
    panel.fill_between([0, GOAL_PARAMS], GOAL_FITTED, 200, color="tab:green", alpha=0.12, zorder=1,
                       label=f"the goal (shaded; dashed: {GOAL_FITTED}%): at most {GOAL_PARAMS:,} params,\n"
                             f"a fitted hold rate (blue) of {GOAL_FITTED}% or more, {GOAL_SEEDS} fresh seeds held")
    panel.axhline(GOAL_FITTED, color="tab:green", linestyle="--", linewidth=1)
    panel.set(ylim=(-18, 108), ylabel="fresh seeds that held (%)",
              title=f"How few parameters hold {TARGET:.2f}% on each of the last {LAST_EPOCHS} epochs "
                    "(bars: 95% intervals)")
    panel.title.set_fontsize(10)
    points = list(zip(params, held))
    return points, [f"{k}/{len(lowest)}" for k, (_, lowest) in zip(met, nets)], \
        points + [(x, 100 * rate) for x, (rate, _, _) in zip(shifted, fits)]


def _accuracy_panel(ax: Axes, trials: Sequence[TrialLine], nets: Sequence[tuple[tuple[str, int], Mapping[int, float]]],
                    named: Collection[str], draw: Callable[..., None]) -> None:
    """Every tuning trial faint, each sweep's seeds and mean, model3 and model4 named at their points."""
    params = [p for (_, p), _ in nets]
    means = [statistics.fmean(lowest.values()) for _, lowest in nets]
    ax.scatter([r["params"] for r in trials], [r["min_last"] for r in trials], s=10, color="grey", alpha=0.3,
               label="tuning trials, CPU and GPU (a dot per seed)")
    for (_, x), lowest in nets:
        ax.scatter([x] * len(lowest), list(lowest.values()), s=14, color="tab:red", alpha=0.45, zorder=3)
    draw(ax, means, None)  # the same series as above: lowest of the last 5, mean (dots: its seeds)
    ax.axhline(TARGET, color="crimson", linestyle="--", linewidth=1)
    shown = [r["min_last"] for r in trials] + [v for _, lowest in nets for v in lowest.values()]
    low = max(min(shown), FRONTIER_FLOOR) - 0.03
    ax.set_ylim(low, max(shown) + 0.08)
    below = sum(v < low for v in shown)
    if below:
        ax.annotate(f"{below} below {low:.2f}, not shown", (0.01, 0.95), xycoords="axes fraction", fontsize=7,
                    color="grey")
    for ((name, x), _), mean in zip(nets, means):
        if name in named:
            label = named[name] if isinstance(named, Mapping) else name
            ax.annotate(label, (x, mean), textcoords="offset points", xytext=(-8, -4), ha="right", va="top",
                        fontsize=9, fontweight="bold", color="black", zorder=5)
    ax.set(xlabel="parameters", ylabel=f"lowest of the last {LAST_EPOCHS} epochs (%)")
    ax.set_xlim(min(params + [PUBLIC_SINGLE_RUN]) - 300, max(params) + 300)
