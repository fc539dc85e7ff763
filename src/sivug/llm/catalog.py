"""The model and price table (``models.toml``): model per task and provider, provider order,
dated prices, and the confidence calibration. Loaded once at startup."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sivug.wrappers.llm_base import Price

DEFAULT_PATH = Path(__file__).with_name("models.toml")


class CatalogError(ValueError):
    """The model table is inconsistent (a model without a price, a bad number, ...)."""


@dataclass(frozen=True, slots=True)
class PriceRow:
    provider: str
    model: str
    price: Price
    as_of: date


@dataclass(frozen=True, slots=True)
class TaskRoute:
    task: str
    providers: tuple[str, ...]
    models: dict[str, str]
    max_output_tokens: int


@dataclass(frozen=True, slots=True)
class Calibration:
    w_llm: float = 0.5
    w_engine: float = 0.5
    disagreement: float = 0.8
    ceiling: float = 0.97


@dataclass(frozen=True)
class Catalog:
    defaults: TaskRoute
    tasks: dict[str, TaskRoute]
    prices: tuple[PriceRow, ...]
    calibration: Calibration = field(default_factory=Calibration)

    def route(self, task: str) -> TaskRoute:
        return self.tasks.get(task, self.defaults)

    def price(self, provider: str, model: str, on: date | None = None) -> Price:
        """The price row in force on ``on`` (today by default): the latest ``as_of`` before."""
        day = on or date.today()
        rows = [
            r for r in self.prices if r.provider == provider and r.model == model and r.as_of <= day
        ]
        if not rows:
            raise CatalogError(f"no price for {provider}/{model} on {day}")
        return max(rows, key=lambda r: r.as_of).price


def _decimal(value: Any, where: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise CatalogError(f"{where}: {value!r} is not a number") from None


def _route(name: str, data: dict[str, Any], defaults: TaskRoute | None) -> TaskRoute:
    providers = tuple(data.get("providers", defaults.providers if defaults else ()))
    models = dict(defaults.models if defaults else {})
    models.update(data.get("models", {}))
    max_tokens = int(data.get("max_output_tokens", defaults.max_output_tokens if defaults else 600))
    return TaskRoute(name, providers, models, max_tokens)


def load_catalog(path: Path | None = None) -> Catalog:
    source = path or DEFAULT_PATH
    with source.open("rb") as handle:
        data = tomllib.load(handle)
    defaults = _route("default", data.get("defaults", {}), None)
    tasks = {name: _route(name, body, defaults) for name, body in data.get("tasks", {}).items()}
    prices = []
    for i, row in enumerate(data.get("prices", [])):
        where = f"{source.name} prices[{i}]"
        try:
            as_of = date.fromisoformat(str(row["as_of"]))
            prices.append(
                PriceRow(
                    provider=str(row["provider"]),
                    model=str(row["model"]),
                    price=Price(
                        _decimal(row["input_per_mtok"], where),
                        _decimal(row["output_per_mtok"], where),
                    ),
                    as_of=as_of,
                )
            )
        except (KeyError, ValueError) as exc:
            raise CatalogError(f"{where}: {exc}") from None
    calibration = Calibration(**{k: float(v) for k, v in data.get("calibration", {}).items()})
    catalog = Catalog(defaults, tasks, tuple(prices), calibration)
    priced = {(r.provider, r.model) for r in catalog.prices}
    for route in [defaults, *tasks.values()]:
        for provider in route.providers:
            model = route.models.get(provider)
            if model is None:
                raise CatalogError(f"task {route.task}: no model for provider {provider}")
            if (provider, model) not in priced:
                raise CatalogError(f"task {route.task}: {provider}/{model} has no price row")
    return catalog
