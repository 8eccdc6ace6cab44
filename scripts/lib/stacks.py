"""CloudFormation stacks in the emulator, shared by scripts/provider-stack,
scripts/customer and the end-to-end tests (e2e/harness.py): reading a stack, waiting for
it to settle, and the values of the quick-create link the api hands out (what the
customer's console would read from it)."""

import time
from urllib.parse import unquote, urlsplit

import botocore.exceptions

from emulator_aws import Failure, error_code

# A stack that settled in one of these is usable; any other settled status is a failure.
DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}


def describe(cfn, name):
    """The stack `name`, or None if there is none."""
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except botocore.exceptions.ClientError as err:
        if error_code(err) == "ValidationError" and "does not exist" in str(err):
            return None
        raise


def failure_reasons(cfn, name):
    """`Resource (Type): reason` for each failed resource event of the stack."""
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except botocore.exceptions.ClientError:
        return []
    return [
        f"{e.get('LogicalResourceId')} ({e.get('ResourceType')}): {e.get('ResourceStatusReason')}"
        for e in events
        if e.get("ResourceStatus", "").endswith("FAILED") and e.get("ResourceStatusReason")
    ]


def wait_stack(cfn, name, timeout=600, poll=1.0):
    """Waits until the stack is no longer *_IN_PROGRESS; returns it if it is CREATE_ or
    UPDATE_COMPLETE, else raises Failure with the reasons CloudFormation gave."""
    deadline = time.monotonic() + timeout
    while True:
        stack = describe(cfn, name)
        status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if status in DONE:
            return stack
        if not status.endswith("_IN_PROGRESS"):
            reasons = "; ".join(failure_reasons(cfn, name)) or (stack or {}).get("StackStatusReason", "")
            raise Failure(f"stack {name} ended in {status}: {reasons}")
        if time.monotonic() > deadline:
            raise Failure(f"stack {name} still {status} after {timeout} s")
        time.sleep(poll)


def outputs(stack):
    """The stack's outputs as a dict."""
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def quick_create_values(link):
    """Every value of a quick-create link, percent-decoded. The console puts them in the
    fragment (`...#/stacks/quickcreate?templateURL=...&stackName=...&param_X=...`);
    `region` is in the query proper."""
    parts = urlsplit(link.strip())
    fragment_query = parts.fragment.split("?", 1)[1] if "?" in parts.fragment else ""
    values = {}
    for query in (parts.query, fragment_query):
        for pair in filter(None, query.split("&")):
            name, _, value = pair.partition("=")
            values[unquote(name)] = unquote(value)
    return values


def quick_create_parameters(link):
    """The template parameters a quick-create link fills in (its `param_X` values, by X)."""
    return {k[len("param_"):]: v for k, v in quick_create_values(link).items() if k.startswith("param_")}
