"""Switchboard's language server driven by pygls's language client (pytest-lsp): a client we
did not write, speaking the protocol as an editor does. The server command comes from
SWITCHBOARD_LSP_COMMAND (set by lsp/tests/real_client.rs: `switchboard lsp`)."""

import os
import pathlib
import shlex

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

WORKSPACE = pathlib.Path(os.environ["SWITCHBOARD_WORKSPACE"])
POLICY = (pathlib.Path(__file__).parent.parent / "fixtures" / "session.route").read_text()


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=shlex.split(os.environ["SWITCHBOARD_LSP_COMMAND"]))
)
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=WORKSPACE.as_uri(),
        )
    )
    yield
    await lsp_client.shutdown_session()


def open_document(client: LanguageClient, name: str, text: str) -> str:
    path = WORKSPACE / name
    path.write_text(text)
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="switchboard", version=1, text=text
            )
        )
    )
    return uri


async def test_a_typo_is_reported_at_its_exact_range(client: LanguageClient):
    text = POLICY.replace("rule warm:   when intent in", "rule warm:   when intnet in")
    uri = open_document(client, "typo.route", text)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    diagnostics = client.diagnostics[uri]
    typo = [d for d in diagnostics if d.code == "unknown-field"]
    assert len(typo) == 1, diagnostics
    line_number = next(i for i, line in enumerate(text.splitlines()) if "intnet" in line)
    line = text.splitlines()[line_number]
    column = len(line[: line.index("intnet")].encode("utf-16-le")) // 2
    assert typo[0].range == types.Range(
        start=types.Position(line=line_number, character=column),
        end=types.Position(line=line_number, character=column + 6),
    )
    assert typo[0].severity == types.DiagnosticSeverity.Error
    assert "did you mean `intent`?" in typo[0].message


async def test_completion_after_when_offers_the_schema_fields(client: LanguageClient):
    text = POLICY + "\nwhen "
    uri = open_document(client, "complete.route", text)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    lines = text.split("\n")
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=len(lines) - 1, character=len("when ")),
        )
    )
    items = result.items if isinstance(result, types.CompletionList) else result
    fields = [item.label for item in items if item.kind == types.CompletionItemKind.Field]
    assert fields == ["created_at", "fit", "id", "intent", "owner", "region"]


async def test_hover_on_a_pool_shows_its_members(client: LanguageClient):
    uri = open_document(client, "hover.route", POLICY)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    line_number = next(i for i, line in enumerate(POLICY.splitlines()) if line.startswith("pool senior"))
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line_number, character=6),
        )
    )
    assert hover is not None
    assert "members: anna, boris" in hover.contents.value
