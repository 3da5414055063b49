"""``python -m examples.agent_platform``: run the service, play the demo scenario once, serve until Ctrl-C.

The servers come from ``SCHEMABUS_BOOTSTRAP_SERVERS`` and ``SCHEMABUS_REGISTRY_URL``, which
``eval "$(schemabus dev up)"`` exports.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from .demo import ScenarioResult, caught_up, run_scenario
from .service import AgentPlatform, PlatformConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m examples.agent_platform", description=__doc__)
    parser.add_argument("--bootstrap-servers", default=os.environ.get("SCHEMABUS_BOOTSTRAP_SERVERS"))
    parser.add_argument("--registry-url", default=os.environ.get("SCHEMABUS_REGISTRY_URL"))
    parser.add_argument("--service", default="agent-platform", help="names the consumer groups and transactional id")
    parser.add_argument("--namespace", default="", help="put in front of every topic name, e.g. demo1.")
    parser.add_argument("--metrics-port", type=int, default=9464, help="/metrics, /healthz, /readyz (0: any port)")
    parser.add_argument("--no-demo", action="store_true", help="only run the service")
    parser.add_argument("--exit-after-demo", action="store_true", help="stop once the demo's costs are counted")
    args = parser.parse_args(argv)
    if not args.bootstrap_servers or not args.registry_url:
        parser.error('no servers: run eval "$(schemabus dev up)" first, or pass --bootstrap-servers and --registry-url')
    return args


async def wait_until_caught_up(platform: AgentPlatform, scenario: ScenarioResult, timeout: float = 60.0) -> None:
    """Wait until the view and the totals show the whole scenario (or a consumer failed)."""
    async with asyncio.timeout(timeout):
        while not caught_up(platform, scenario):
            if (error := platform.failed()) is not None:
                raise error
            await asyncio.sleep(0.1)


def report(platform: AgentPlatform) -> str:
    """The projector's view and the cost totals, as a few lines of text."""
    lines = ["live agents:"]
    for agent in platform.view.agents.values():
        lines.append(
            f"  {agent.agent_id} {agent.agent_type.name:<10} {agent.status.name:<7} rev {agent.revision}"
            f"  searches: {len(agent.completed)} completed, {len(agent.failed)} failed"
        )
    lines.append("cost per agent:")
    for (agent_id, currency), total in sorted(platform.aggregator.totals.by_agent().items(), key=str):
        lines.append(f"  {agent_id or 'unattributed'}  {total} {currency}")
    lines.append("cost per day:")
    for (day, currency), total in sorted(platform.aggregator.totals.by_day().items()):
        lines.append(f"  {day}  {total} {currency}")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    """Start the service, play the demo unless told not to, serve until SIGINT or SIGTERM."""
    config = PlatformConfig(
        args.bootstrap_servers,
        args.registry_url,
        service=args.service,
        namespace=args.namespace,
        metrics_port=args.metrics_port,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with AgentPlatform(config) as platform:
        if platform.server is not None:
            print(f"metrics and probes on {platform.server.url} (/metrics, /healthz, /readyz)", file=sys.stderr)
        if not args.no_demo:
            scenario = await run_scenario(platform)
            await wait_until_caught_up(platform, scenario)
            print(report(platform))
        if not args.exit_after_demo:
            print("serving; Ctrl-C stops", file=sys.stderr)
            await serve_until(platform, stop)


async def serve_until(platform: AgentPlatform, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set or a consumer stops on an error, which is raised: the process exits
    with it, to be restarted (a restarted aggregator restores its totals)."""
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([stopped, *platform.tasks], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if (error := platform.failed()) is not None:
        raise error


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
