"""The same toolkit from plain synchronous code: no event loop of your own needed.

    python examples/sync_usage.py
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from scalekit_langchain import ScalekitMCPToolkit
from _offline import scalekit_environment

USER = "jane-roe"


def main() -> None:
    with scalekit_environment() as emulator:
        with ScalekitMCPToolkit(
            config_name="sync-example",
            user_identifier=USER,
            connection_tool_mappings=[{"connection_name": "MY_GMAIL", "tools": []}],  # all Gmail tools
            tools=["gmail_fetch_mails", "gmail_get_message_by_id"],  # ...but expose only these
        ) as toolkit:
            if emulator is not None:
                emulator.authorize(USER, "MY_GMAIL")
            toolkit.ensure_authorized()  # raises AuthorizationRequired (with links) otherwise

            fetch, get_by_id = toolkit.get_tools()
            listing = fetch.invoke({"max_results": 3})
            print(listing)

            # Sync calls from many threads share the user's one MCP session.
            ids = ["msg_0005", "msg_0004", "msg_0003"] if emulator is not None else []
            with ThreadPoolExecutor(max_workers=3) as pool:
                for text in pool.map(lambda i: get_by_id.invoke({"message_id": i}), ids):
                    print(text.splitlines()[0])


if __name__ == "__main__":
    main()
