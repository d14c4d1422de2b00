#!/usr/bin/python3
"""Drives the emulated Hetzner Cloud API (test/support/hetzner-api.ts) with the
official client, python3-hcloud, through every Cloud API call the takeover program
makes, so that the emulation is held to the shapes the client, written against the
real API, expects. hcloud-client.test.ts runs it.

Reads one JSON object on stdin, never from arguments, as it carries the token:

    {"endpoint": ..., "token": ..., "pollIntervalSeconds": ..., "steps": [...]}

and prints a JSON list with one result per step. A step is one of
    {"call": "get_floating_ip", "id"}
    {"call": "assign", "floating_ip", "server", "wait": true}
    {"call": "get_network", "id"}
    {"call": "add_route" | "delete_route", "network", "destination", "gateway", "wait": true}
    {"call": "wait", "step"}    waits for the action an earlier step left running
A call the client raises an exception for gives {"error": {"exception", ...}}.
Each answer also lists the fields the client's model reads that the emulation left
out ("missing"): from_dict fills those with None without a word.
"""
import copy
import json
import sys

import requests
from hcloud import APIException, Client
from hcloud.actions.domain import Action, ActionFailedException, ActionTimeoutException
from hcloud.floating_ips.domain import FloatingIP
from hcloud.locations.domain import Location
from hcloud.networks.domain import Network, NetworkRoute, NetworkSubnet
from hcloud.servers.domain import Server


class RecordingClient(Client):
    """Keeps each answer as it came, before the client's models take it apart."""

    # The client's own wait between its retries of a 429 (this many seconds times
    # the try), short as the takeover's timings are in its tests.
    _retry_wait_time = 0.01
    answer = None

    def request(self, method, url, tries=1, **kwargs):
        answer = super().request(method, url, tries, **kwargs)
        self.answer = copy.deepcopy(answer)
        return answer


def missing(model, answer):
    return sorted(set(model.__slots__) - set(answer or {}))


def subnet_missing(subnet):
    # Only a vSwitch subnet has a vswitch_id: the API leaves it out of cloud subnets.
    optional = set() if subnet.get("type") == "vswitch" else {"vswitch_id"}
    return sorted(set(missing(NetworkSubnet, subnet)) - optional)


def timestamp(value):
    return value.isoformat() if value else None


def action_result(action, answer):
    return {
        "id": action.id,
        "command": action.command,
        "status": action.status,
        "progress": action.progress,
        "started": timestamp(action.started),
        "finished": timestamp(action.finished),
        "resources": action.resources,
        "error": action.error,
        "missing": missing(Action, answer["action"]),
    }


class Driver:
    def __init__(self, setup):
        self.client = RecordingClient(token=setup["token"], api_endpoint=setup["endpoint"],
                                      poll_interval=setup["pollIntervalSeconds"])
        self.actions = {}

    def get_floating_ip(self, step):
        floating_ip = self.client.floating_ips.get_by_id(step["id"])
        answer = self.client.answer["floating_ip"]
        return {
            "id": floating_ip.id,
            "name": floating_ip.name,
            "ip": floating_ip.ip,
            "type": floating_ip.type,
            "server": floating_ip.server.id if floating_ip.server else None,
            "blocked": floating_ip.blocked,
            "home_location": floating_ip.home_location.name if floating_ip.home_location else None,
            "created": timestamp(floating_ip.created),
            "missing": missing(FloatingIP, answer) + [f"home_location.{name}" for name in missing(Location, answer.get("home_location"))],
        }

    def get_network(self, step):
        network = self.client.networks.get_by_id(step["id"])
        answer = self.client.answer["network"]
        routes = [{"destination": route.destination, "gateway": route.gateway} for route in network.routes]
        nested = {f"routes.{name}" for route in answer.get("routes") or [] for name in missing(NetworkRoute, route)}
        nested |= {f"subnets.{name}" for subnet in answer.get("subnets") or [] for name in subnet_missing(subnet)}
        return {
            "id": network.id,
            "name": network.name,
            "ip_range": network.ip_range,
            "routes": routes,
            "servers": [server.id for server in network.servers],
            "created": timestamp(network.created),
            "missing": missing(Network, answer) + sorted(nested),
        }

    def assign(self, step):
        action = self.client.floating_ips.assign(FloatingIP(id=step["floating_ip"]), Server(id=step["server"]))
        return self.posted(step, action)

    def add_route(self, step):
        route = NetworkRoute(destination=step["destination"], gateway=step["gateway"])
        return self.posted(step, self.client.networks.add_route(Network(id=step["network"]), route))

    def delete_route(self, step):
        route = NetworkRoute(destination=step["destination"], gateway=step["gateway"])
        return self.posted(step, self.client.networks.delete_route(Network(id=step["network"]), route))

    def posted(self, step, action):
        """The action as the POST answered it, then, unless told not to wait, as polling ended it."""
        result = {"posted": action_result(action, self.client.answer)}
        self.actions[step["index"]] = action
        if step.get("wait", True):
            result.update(self.wait({"step": step["index"]}))
        return result

    def wait(self, step):
        action = self.actions[step["step"]]
        action.wait_until_finished()
        return {"finished": action_result(action, self.client.answer)}


def error(exception):
    if isinstance(exception, APIException):
        return {"exception": "APIException", "code": exception.code, "message": exception.message, "details": exception.details}
    if isinstance(exception, (ActionFailedException, ActionTimeoutException)):
        action = exception.action
        return {"exception": type(exception).__name__, "id": action.id, "command": action.command, "status": action.status, "error": action.error}
    return {"exception": type(exception).__name__}


def main():
    setup = json.load(sys.stdin)
    driver = Driver(setup)
    results = []
    for index, step in enumerate(setup["steps"]):
        try:
            results.append(getattr(driver, step["call"])({**step, "index": index}))
        except (APIException, ActionFailedException, ActionTimeoutException, requests.exceptions.ConnectionError) as exception:
            results.append({"error": error(exception)})
    json.dump(results, sys.stdout, default=str)


main()
