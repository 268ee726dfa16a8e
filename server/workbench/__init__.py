"""The workbench: a per-session folder, a persistent sandboxed Python process and shell, tool calls from inside.

Public API (what meta tools, the REST file endpoints and the app wire up):
`Workbench` (what callers are typed against), `WorkbenchManager`, `WorkbenchSettings`, the run results
`PythonRun` / `BashRun` / `RunError`, `ToolRunner` (the executor callback), and `HELPERS_DOC` (for the
meta tool's description).
"""

from server.workbench.channel import ToolRunner
from server.workbench.interface import Workbench
from server.workbench.manager import WorkbenchManager
from server.workbench.runs import BashRun, FreshReason, PythonRun, RunError
from server.workbench.runtime.concierge_helpers import HELPERS_DOC
from server.workbench.sandbox import SandboxUnavailable
from server.workbench.settings import Isolation, WorkbenchSettings

__all__ = [
    "HELPERS_DOC",
    "BashRun",
    "FreshReason",
    "Isolation",
    "PythonRun",
    "RunError",
    "SandboxUnavailable",
    "ToolRunner",
    "Workbench",
    "WorkbenchManager",
    "WorkbenchSettings",
]
