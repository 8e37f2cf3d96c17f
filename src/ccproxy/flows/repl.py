"""`ccproxy flows repl`: an interactive prompt over the flow set (stdlib cmd + readline)."""

from __future__ import annotations

import cmd
import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from ccproxy.flows.client import DaemonUnavailable, FlowClient
from ccproxy.flows.compare import compare_flows
from ccproxy.flows.diff import NotEnoughFlows, render_diffs
from ccproxy.flows.jqchain import JqFilterError, compile_chain
from ccproxy.flows.offline import FlowSource
from ccproxy.flows.render import print_comparisons, render_flows

HELP = """\
Commands (the leading ':' is optional for commands; anything else is a jq filter):
  :jq FILTER     narrow the set with a jq filter (array -> array); a bare line does the same
  :pop           undo the last :jq            :reset     back to the starting filters
  :filters       show the filter chain        :refresh   fetch flows from the daemon again
  :list          table of the set             :json      the set as JSON
  :show ID       one flow (ID prefix) as JSON with bodies
  :diff          sliding-window diff of request bodies
  :compare       client vs forwarded request per flow
  :dump FILE     write the set as HAR 1.2 (secrets redacted)
  :history       previous inputs              :quit      leave (also Ctrl-D)"""


def default_history_file() -> str:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(state) / "ccproxy" / "flows_history")


class FlowRepl(cmd.Cmd):
    intro = "ccproxy flows repl: :help for commands, Ctrl-D to leave."

    def __init__(
        self,
        client: FlowClient | FlowSource,
        base_filters: Sequence[str] = (),
        history_file: str | None = None,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
    ) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        if stdin is not None:
            self.use_rawinput = False
        self.client = client
        self.base_filters = list(base_filters)
        self.filters = list(base_filters)
        self.history_file = history_file
        self.history: list[str] = []
        self._all_json = "[]"
        self.flows: list[dict[str, Any]] = []

    # -- state ---------------------------------------------------------------------------

    @property
    def prompt(self) -> str:  # type: ignore[override]
        return f"flows[{len(self.flows)}]> "

    def refresh(self) -> None:
        # Bodies are fetched once so :show, :diff and :compare need no further requests.
        self._all_json = self.client.list_text(bodies=True)
        self._recompute(self.filters)

    def _recompute(self, filters: list[str]) -> None:
        flows = compile_chain(filters).run(self._all_json)
        self.filters = filters
        self.flows = flows

    def _say(self, text: str) -> None:
        self.stdout.write(text + "\n")

    def _console(self) -> Console:
        width = int(os.environ.get("COLUMNS", "0")) or 100
        return Console(file=self.stdout, width=width, highlight=False, force_terminal=False)

    # -- cmd plumbing ----------------------------------------------------------------------

    def parseline(self, line: str) -> tuple[str | None, str | None, str]:
        stripped = line.strip()
        if stripped.startswith(":"):
            return super().parseline(stripped[1:])
        command, arg, full = super().parseline(stripped)
        if command and hasattr(self, f"do_{command}"):
            return command, arg, full
        return "jq", stripped, stripped  # a bare line is a filter

    def precmd(self, line: str) -> str:
        if line.strip() and line != "EOF":
            self.history.append(line.strip())
        return line

    def emptyline(self) -> bool:
        return False

    def onecmd(self, line: str) -> bool:
        try:
            return super().onecmd(line)
        except (JqFilterError, DaemonUnavailable, NotEnoughFlows, OSError) as e:
            self._say(f"Error: {e}")
            return False

    def default(self, line: str) -> None:
        self._say(f"Unknown command: {line} (:help lists commands)")

    def run(self) -> None:
        readline = self._setup_readline()
        try:
            self.cmdloop()
        except KeyboardInterrupt:
            self._say("")
        finally:
            if readline is not None and self.history_file:
                Path(self.history_file).parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(self.history_file)

    def _setup_readline(self) -> Any:
        if not self.use_rawinput:
            return None
        try:
            import readline
        except ImportError:  # no readline on this platform: plain input() still works
            return None
        if self.history_file and Path(self.history_file).exists():
            readline.read_history_file(self.history_file)
            self.history = [readline.get_history_item(i) for i in range(1, readline.get_current_history_length() + 1)]
        return readline

    # -- commands --------------------------------------------------------------------------

    def do_help(self, arg: str) -> None:
        self._say(HELP)

    def do_jq(self, arg: str) -> None:
        if not arg.strip():
            self._say("usage: :jq FILTER")
            return
        self._recompute([*self.filters, arg.strip()])
        self._say(f"{len(self.flows)} flow(s).")

    def do_pop(self, arg: str) -> None:
        if len(self.filters) <= len(self.base_filters):
            self._say("No filter to pop.")
            return
        self._recompute(self.filters[:-1])
        self._say(f"{len(self.flows)} flow(s).")

    def do_reset(self, arg: str) -> None:
        self._recompute(list(self.base_filters))
        self._say(f"{len(self.flows)} flow(s).")

    def do_refresh(self, arg: str) -> None:
        self.refresh()
        self._say(f"{len(self.flows)} flow(s).")

    def do_filters(self, arg: str) -> None:
        if not self.filters:
            self._say("(no filters)")
        for i, text in enumerate(self.filters):
            self._say(f"{i}: {text}")

    def do_list(self, arg: str) -> None:
        if not self.flows:
            self._say("No flows in the set.")
            return
        self._say(render_flows(self.flows, self._console().width))

    def do_json(self, arg: str) -> None:
        self._say(json.dumps(self.flows, indent=2))

    def do_show(self, arg: str) -> None:
        prefix = arg.strip()
        if not prefix:
            self._say("usage: :show ID")
            return
        matches = [f for f in self.flows if str(f.get("id", "")).startswith(prefix)]
        if not matches:
            # Not in the filtered set: the daemon resolves unique id prefixes itself.
            flow = self.client.get_flow(prefix)
            if flow is None:
                self._say(f"No flow with id {prefix!r}.")
            else:
                self._say(json.dumps(flow, indent=2))
        elif len(matches) > 1:
            self._say(f"{len(matches)} flows match {prefix!r}; give more of the id.")
        else:
            self._say(json.dumps(matches[0], indent=2))

    def do_diff(self, arg: str) -> None:
        self._say(render_diffs(self.flows))

    def do_compare(self, arg: str) -> None:
        if not self.flows:
            self._say("No flows in the set.")
            return
        print_comparisons(self._console(), compare_flows(self.flows))

    def do_dump(self, arg: str) -> None:
        parts = shlex.split(arg)
        if len(parts) != 1:
            self._say("usage: :dump FILE")
            return
        from ccproxy.flows.har import flows_to_har  # pulls in mitmproxy; only :dump needs it

        path = Path(parts[0]).expanduser()
        path.write_text(json.dumps(flows_to_har(self.flows), indent=2, ensure_ascii=False), encoding="utf-8")
        self._say(f"Wrote {len(self.flows)} flow(s) to {path}.")

    def do_history(self, arg: str) -> None:
        for i, line in enumerate(self.history, 1):
            self._say(f"{i:4d}  {line}")

    def do_quit(self, arg: str) -> bool:
        return True

    do_q = do_quit
    do_exit = do_quit

    def do_EOF(self, arg: str) -> bool:
        self._say("")
        return True
