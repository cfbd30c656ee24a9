"""The ``aicd.yml`` schema: one typed section per gate, with errors that point at file and line.

Unknown keys are errors (a typo must not silently fall back to a default), types are checked,
and every default is the story's default and documented in the README. Keys are kebab-case like
the action inputs. Each section lives in its own module (:mod:`.data`, :mod:`.model`,
:mod:`.monitor`, :mod:`.deploy`) as dataclasses whose fields declare their keys; :mod:`.reader`
reads any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError
from ..tenancy import check_tenant
from .data import DRIFT_METHODS, DTYPES, ColumnSpec, DataConfig, DriftConfig, DriftOverride, FreshnessConfig
from .deploy import STRATEGIES, AbConfig, BlueGreenConfig, CanaryConfig, DeployConfig, KubernetesConfig
from .model import (
    DEFAULT_ESTIMATOR,
    DEFAULT_PARAMS,
    TASKS,
    CompareConfig,
    DecisionThreshold,
    ModelConfig,
    SliceConfig,
    SplitConfig,
    looks_like_regressor,
)
from .monitor import LiveDriftConfig, MonitorConfig, window_seconds
from .reader import Reader, compose, read_section, setting
from .tenants import TenantOverride, read_tenants, split_lines, view

__all__ = [
    "DEFAULT_ESTIMATOR",
    "DEFAULT_PARAMS",
    "DRIFT_METHODS",
    "DTYPES",
    "STRATEGIES",
    "TASKS",
    "AbConfig",
    "BlueGreenConfig",
    "CanaryConfig",
    "ColumnSpec",
    "CompareConfig",
    "Config",
    "DataConfig",
    "DecisionThreshold",
    "DeployConfig",
    "DriftConfig",
    "DriftOverride",
    "FreshnessConfig",
    "KubernetesConfig",
    "LiveDriftConfig",
    "ModelConfig",
    "MonitorConfig",
    "SliceConfig",
    "SplitConfig",
    "TenantOverride",
    "load_config",
    "looks_like_regressor",
    "parse_config",
    "window_seconds",
]


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)
    tenants: dict[str, TenantOverride] = setting(factory=dict, parse=read_tenants)
    file: str = field(default="aicd.yml")
    lines: dict[str, int] = field(default_factory=dict, repr=False)
    tenant: str = field(default="")  # whose view this is ("" for the defaults)
    views: dict[str, Config] = field(default_factory=dict, repr=False)  # each declared tenant's view

    def line_of(self, path: str) -> int | None:
        """The line of a dotted key path such as ``data.columns.age.min``, if it was in the file (in a
        tenant's view, the line of the override where it sets the key)."""
        return self.lines.get(path)

    def for_tenant(self, tenant: str) -> Config:
        """What a step with input ``tenant`` reads: the tenant's view once ``tenants:`` is declared (a
        tenant it does not declare is refused), else this config. ``tenant`` is already checked."""
        if not tenant or not self.tenants:
            return self
        if tenant not in self.views:
            raise ConfigError(f"input `tenant`: {tenant!r} is not declared under `tenants:`", file=self.file,
                              line=self.lines.get("tenants"),
                              hint=f"declared: {', '.join(sorted(self.tenants))}; add it there or fix the input")
        return self.views[tenant]

    def data_source(self, given: str | None) -> str:
        """The dataset a stage reads: its `data` input, else ``data.source``; ConfigError without either."""
        if given or self.data.source:
            return given or self.data.source or ""
        hint = f"set tenants.{self.tenant}.data.source" if self.tenant else "set data.source in aicd.yml"
        raise ConfigError("input `data` is required: no dataset is given",
                          hint=f"give the `data` input (env AICD_DATA), or {hint}")


def load_config(path: str | Path | None, tenant: str = "") -> Config:
    """Read and validate ``aicd.yml`` as ``tenant`` sees it (see :meth:`Config.for_tenant`; the id is
    checked); ``None`` or an empty path gives the all-defaults config."""
    tenant = check_tenant(tenant)
    if not path:
        return Config(file="(defaults)")
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", file=file, hint="check the `config` input path") from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", file=file, hint="name the aicd.yml file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text (byte {exc.start})", file=file,
                          hint="the config must be a YAML text file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", file=file) from None
    return parse_config(text, file).for_tenant(tenant)


def parse_config(text: str, file: str = "aicd.yml") -> Config:
    """Validate aicd.yml's text; every mistake is a ConfigError naming ``file``, line and key."""
    raw, lines = compose(text, file)
    config = read_section(Reader(file, lines), Config, raw, "", {"file": file, "lines": lines})
    if not config.tenants:
        return config
    base_lines, tenant_lines = split_lines(lines)
    return replace(config, views={tenant: _view(raw, base_lines, tenant_lines.get(tenant, {}), file, tenant)
                                  for tenant in config.tenants})


def _view(raw: dict, base_lines: dict[str, int], own_lines: dict[str, int], file: str, tenant: str) -> Config:
    """``tenant``'s view of the file, read like the file itself (errors name the override's keys)."""
    merged, merged_lines, written = view(raw, base_lines, own_lines, tenant)
    return read_section(Reader(file, merged_lines, written), Config, merged, "",
                        {"file": file, "lines": merged_lines, "tenant": tenant})
