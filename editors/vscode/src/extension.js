// The Switchboard extension: starts the Switchboard language server (`switchboard lsp`) on stdio
// for `.route` files and restarts it when its settings change.
//
// Everything the editor shows (diagnostics, completion, hover, rename, formatting, quick fixes,
// semantic tokens, inlay hints, code lenses) comes from the server. The `switchboard.runTest`
// command behind the "▶ Run test" lens is registered by vscode-languageclient itself, because the
// server lists it in its `executeCommandProvider` capability; registering it here as well would
// fail with "command already exists".
'use strict';

const path = require('node:path');
const vscode = require('vscode');
const { LanguageClient, RevealOutputChannelOn } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;

/** The server command from the settings: `switchboard.server.path` and `.args`. */
function serverCommand() {
  const config = vscode.workspace.getConfiguration('switchboard');
  let command = config.get('server.path', 'switchboard') || 'switchboard';
  const args = config.get('server.args', ['lsp']);
  if (command.startsWith('~/') && process.env.HOME) {
    command = path.join(process.env.HOME, command.slice(2));
  }
  // A relative path with a directory part (`./target/debug/switchboard`) is relative to the
  // first workspace folder; a bare name is looked up on PATH.
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!path.isAbsolute(command) && command.includes('/') && folder?.uri.scheme === 'file') {
    command = path.join(folder.uri.fsPath, command);
  }
  return { command, args: Array.isArray(args) ? args.map(String) : ['lsp'] };
}

async function start() {
  const { command, args } = serverCommand();
  // No `transport`: vscode-languageclient then speaks over the process's stdio without adding a
  // `--stdio` argument.
  const serverOptions = { command, args };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'switchboard' },
      { scheme: 'untitled', language: 'switchboard' },
    ],
    revealOutputChannelOn: RevealOutputChannelOn.Never,
  };
  client = new LanguageClient('switchboard', 'Switchboard', serverOptions, clientOptions);
  try {
    await client.start();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const choice = await vscode.window.showErrorMessage(
      `Switchboard: cannot start the language server \`${command} ${args.join(' ')}\` (${message}). ` +
        'Install switchboard (cargo install --path . --locked), or set "switchboard.server.path".',
      'Open Settings',
    );
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'switchboard.server');
    }
  }
}

async function stop() {
  const running = client;
  client = undefined;
  if (running) {
    try {
      await running.stop();
    } catch {
      // A server that never started cannot be stopped; nothing is left to clean up.
    }
  }
}

async function restart() {
  await stop();
  await start();
}

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('switchboard.restartServer', restart),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('switchboard.server')) {
        void restart();
      }
    }),
    { dispose: () => void stop() },
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate, serverCommand };
