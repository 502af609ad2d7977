// The TextMate grammar, loaded the way VS Code loads it (vscode-textmate on the Oniguruma regex
// engine compiled to WebAssembly), tokenizes real policies with the scopes a theme colours.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const extensionDir = path.join(__dirname, '..');
const repoDir = path.join(extensionDir, '..', '..');
const grammarPath = path.join(extensionDir, 'syntaxes', 'switchboard.tmLanguage.json');
const manifest = require('../package.json');

let grammarPromise;

/** The grammar, loaded once. */
function grammar() {
  grammarPromise ??= (async () => {
    const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const registry = new vsctm.Registry({
      onigLib: Promise.resolve({
        createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
        createOnigString: (text) => new oniguruma.OnigString(text),
      }),
      loadGrammar: async (scopeName) =>
        scopeName === 'source.switchboard'
          ? vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath)
          : null,
    });
    return registry.loadGrammar('source.switchboard');
  })();
  return grammarPromise;
}

/** Every token of `text` as { text, scopes, line }, lines tokenized in order like an editor does. */
async function tokenize(text) {
  const g = await grammar();
  let stack = vsctm.INITIAL;
  const tokens = [];
  text.split('\n').forEach((line, index) => {
    const result = g.tokenizeLine(line, stack);
    for (const token of result.tokens) {
      tokens.push({
        text: line.slice(token.startIndex, token.endIndex),
        scopes: token.scopes,
        line: index + 1,
      });
    }
    stack = result.ruleStack;
  });
  return tokens;
}

/** The innermost scope of the first token whose text is `word` (after `from` tokens with it). */
function scopeOf(tokens, word, nth = 0) {
  const found = tokens.filter((t) => t.text === word);
  assert.ok(found.length > nth, `no token \`${word}\` (#${nth}) in ${JSON.stringify(tokens.map((t) => t.text))}`);
  return found[nth].scopes[found[nth].scopes.length - 1];
}

/** The lines of the item of `examples/FILE` whose first line starts with `startsWith`: that line
 * and the indented lines that continue it (fmt breaks a long rule over several lines). */
function exampleItem(file, startsWith) {
  const lines = fs.readFileSync(path.join(repoDir, 'examples', file), 'utf8').split('\n');
  const first = lines.findIndex((l) => l.startsWith(startsWith));
  assert.ok(first >= 0, `examples/${file} has no line starting with ${startsWith}`);
  let end = first + 1;
  while (end < lines.length && /^\s+\S/.test(lines[end]) && !/^\s*#/.test(lines[end])) end += 1;
  return lines.slice(first, end).join('\n');
}

function exampleLine(file, startsWith) {
  const line = fs
    .readFileSync(path.join(repoDir, 'examples', file), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(startsWith));
  assert.ok(line, `examples/${file} has no line starting with ${startsWith}`);
  return line;
}

test('package.json contributes this grammar for the .route language', () => {
  const [language] = manifest.contributes.languages;
  assert.equal(language.id, 'switchboard');
  assert.deepEqual(language.extensions, ['.route']);
  const [contributed] = manifest.contributes.grammars;
  assert.equal(contributed.scopeName, 'source.switchboard');
  assert.equal(path.resolve(extensionDir, contributed.path), grammarPath);
  assert.equal(JSON.parse(fs.readFileSync(grammarPath, 'utf8')).scopeName, 'source.switchboard');
});

test('a rule of examples/routing.route: keywords, names, the arrow and durations', async () => {
  const item = exampleItem('routing.route', 'rule hot:');
  assert.equal(
    item.replace(/\s+/g, ' '),
    'rule hot: when intent = high and fit = strong -> pool senior within 15m escalate backup after 30m',
  );
  const tokens = await tokenize(item);
  assert.equal(scopeOf(tokens, 'rule'), 'storage.type.rule.switchboard');
  assert.equal(scopeOf(tokens, 'hot'), 'entity.name.function.rule.switchboard');
  assert.equal(scopeOf(tokens, 'when'), 'keyword.control.switchboard');
  assert.equal(scopeOf(tokens, 'intent'), 'variable.other.switchboard');
  assert.equal(scopeOf(tokens, '='), 'keyword.operator.comparison.switchboard');
  assert.equal(scopeOf(tokens, 'and'), 'keyword.operator.logical.switchboard');
  assert.equal(scopeOf(tokens, '->'), 'keyword.operator.arrow.switchboard');
  assert.equal(scopeOf(tokens, 'pool'), 'keyword.other.pool.switchboard');
  assert.equal(scopeOf(tokens, 'senior'), 'entity.name.reference.switchboard');
  assert.equal(scopeOf(tokens, 'within'), 'keyword.control.switchboard');
  assert.equal(scopeOf(tokens, '15m'), 'constant.numeric.duration.switchboard');
  assert.equal(scopeOf(tokens, 'escalate'), 'keyword.control.escalate.switchboard');
  assert.equal(scopeOf(tokens, 'backup'), 'entity.name.reference.switchboard');
  assert.equal(scopeOf(tokens, 'after'), 'keyword.control.switchboard');
  assert.equal(scopeOf(tokens, '30m'), 'constant.numeric.duration.switchboard');
});

test('a pool of examples/routing.route with a trailing comment', async () => {
  const line = `${exampleLine('routing.route', 'pool backup')}   # first available, in this order`;
  const tokens = await tokenize(line);
  assert.equal(scopeOf(tokens, 'pool'), 'storage.type.pool.switchboard');
  assert.equal(scopeOf(tokens, 'backup'), 'entity.name.type.pool.switchboard');
  assert.equal(scopeOf(tokens, '{'), 'punctuation.section.braces.begin.switchboard');
  assert.equal(scopeOf(tokens, 'members'), 'keyword.other.switchboard');
  assert.equal(scopeOf(tokens, ','), 'punctuation.separator.comma.switchboard');
  assert.equal(scopeOf(tokens, 'strategy'), 'keyword.other.strategy.switchboard');
  assert.equal(scopeOf(tokens, 'ordered'), 'support.constant.strategy.switchboard');
  assert.equal(scopeOf(tokens, 'calendar'), 'keyword.other.calendar.switchboard');
  assert.equal(scopeOf(tokens, 'berlin'), 'entity.name.reference.switchboard');
  assert.equal(scopeOf(tokens, '#'), 'punctuation.definition.comment.switchboard');
  const comment = tokens.find((t) => t.text.includes('first available'));
  assert.equal(comment.text, ' first available, in this order');
  assert.ok(comment.scopes.includes('comment.line.number-sign.switchboard'));
});

test('a test lead of examples/routing.route: strings, timestamps, field keys', async () => {
  const tokens = await tokenize(exampleLine('routing.route', '  lead { id: "t1"'));
  assert.equal(scopeOf(tokens, 'lead'), 'keyword.other.switchboard');
  assert.equal(scopeOf(tokens, 'id'), 'variable.other.property.switchboard');
  assert.equal(scopeOf(tokens, ':'), 'punctuation.separator.colon.switchboard');
  const quote = tokens.find((t) => t.text === '"');
  assert.deepEqual(quote.scopes, [
    'source.switchboard',
    'string.quoted.double.switchboard',
    'punctuation.definition.string.begin.switchboard',
  ]);
  assert.deepEqual(tokens.find((t) => t.text === 't1').scopes, [
    'source.switchboard',
    'string.quoted.double.switchboard',
  ]);
  assert.equal(scopeOf(tokens, '"', 1), 'punctuation.definition.string.end.switchboard');
  assert.equal(scopeOf(tokens, 'high'), 'variable.other.switchboard');
  assert.equal(scopeOf(tokens, '800'), 'constant.numeric.switchboard');
  const next = await tokenize(exampleLine('routing.route', '         deal_value: 20000'));
  assert.equal(scopeOf(next, '2026-11-23T10:00:00+01:00'), 'constant.numeric.timestamp.switchboard');
});

test('numbers with `_`, business durations and an otherwise rule of examples/routing.route', async () => {
  const family = await tokenize(exampleItem('routing.route', 'rule family:'));
  assert.equal(scopeOf(family, 'is'), 'keyword.operator.word.switchboard');
  assert.equal(scopeOf(family, 'set'), 'keyword.operator.word.switchboard');
  assert.equal(scopeOf(family, '>='), 'keyword.operator.comparison.switchboard');
  assert.equal(scopeOf(family, '10_000'), 'constant.numeric.switchboard');

  const events = await tokenize(exampleItem('routing.route', 'rule events:'));
  assert.equal(scopeOf(events, '2'), 'constant.numeric.integer.switchboard');
  assert.equal(scopeOf(events, 'business'), 'keyword.other.business.switchboard');
  assert.equal(scopeOf(events, 'days'), 'keyword.other.unit.switchboard');
  assert.ok(events.find((t) => t.text === 'days').scopes.includes('meta.duration.business.switchboard'));
  assert.equal(scopeOf(events, '3'), 'constant.numeric.integer.switchboard');

  const otherwise = await tokenize(exampleLine('routing.route', 'otherwise'));
  assert.equal(scopeOf(otherwise, 'otherwise'), 'keyword.control.switchboard');
  assert.equal(scopeOf(otherwise, 'queue'), 'keyword.other.queue.switchboard');
  assert.equal(scopeOf(otherwise, 'nurture'), 'entity.name.reference.switchboard');

  const queue = await tokenize(exampleLine('routing.route', 'queue nurture'));
  assert.equal(scopeOf(queue, 'queue'), 'storage.type.queue.switchboard');
  assert.equal(scopeOf(queue, 'nurture'), 'entity.name.type.queue.switchboard');
});

test('calendars of examples/routing.route: time zones, weekdays, clock times, dates', async () => {
  const tokens = await tokenize(
    [
      exampleLine('routing.route', 'calendar berlin'),
      exampleLine('routing.route', '  timezone Europe/Berlin'),
      exampleLine('routing.route', '  hours mon-fri 09:00-18:00'),
      exampleLine('routing.route', '  holidays 2026-12-24'),
    ].join('\n'),
  );
  assert.equal(scopeOf(tokens, 'calendar'), 'storage.type.calendar.switchboard');
  assert.equal(scopeOf(tokens, 'berlin'), 'entity.name.type.calendar.switchboard');
  assert.equal(scopeOf(tokens, 'timezone'), 'keyword.other.timezone.switchboard');
  assert.equal(scopeOf(tokens, 'Europe/Berlin'), 'string.unquoted.timezone.switchboard');
  assert.equal(scopeOf(tokens, 'hours'), 'keyword.other.switchboard');
  assert.equal(scopeOf(tokens, 'mon'), 'constant.language.weekday.switchboard');
  assert.equal(scopeOf(tokens, 'fri'), 'constant.language.weekday.switchboard');
  assert.equal(scopeOf(tokens, '09:00'), 'constant.numeric.time.switchboard');
  assert.equal(scopeOf(tokens, '18:00'), 'constant.numeric.time.switchboard');
  assert.equal(scopeOf(tokens, 'holidays'), 'keyword.other.switchboard');
  assert.equal(scopeOf(tokens, '2026-12-24'), 'constant.numeric.date.switchboard');
});

test('a schema: field types, enums, optional fields', async () => {
  const tokens = await tokenize(
    [
      exampleLine('routing.route', 'schema lead'),
      exampleLine('routing.route', '  intent:'),
      exampleLine('routing.route', '  industry:'),
    ].join('\n'),
  );
  assert.equal(scopeOf(tokens, 'schema'), 'storage.type.schema.switchboard');
  assert.equal(scopeOf(tokens, 'lead'), 'entity.name.type.schema.switchboard');
  assert.equal(scopeOf(tokens, 'intent'), 'variable.other.property.switchboard');
  assert.equal(scopeOf(tokens, 'enum'), 'storage.type.switchboard');
  assert.equal(scopeOf(tokens, 'string'), 'support.type.primitive.switchboard');
  assert.equal(scopeOf(tokens, '?'), 'keyword.operator.optional.switchboard');
});

test('strings: the five escapes, and an unknown escape is marked invalid', async () => {
  const tokens = await tokenize(String.raw`when industry in {"Food \"&\" Beverage", "R\\D \n\t\r", "\q"} -> queue review`);
  for (const escape of [String.raw`\"`, String.raw`\\`, String.raw`\n`, String.raw`\t`, String.raw`\r`]) {
    assert.equal(scopeOf(tokens, escape), 'constant.character.escape.switchboard', escape);
  }
  assert.equal(scopeOf(tokens, String.raw`\q`), 'invalid.illegal.unknown-escape.switchboard');
  assert.equal(scopeOf(tokens, 'review'), 'entity.name.reference.switchboard');
});

test('more literals: combined durations, negative and fractional numbers, weighted shares, clock ranges', async () => {
  const tokens = await tokenize(
    [
      'rule r: when deal_value < -5 or deal_value >= 1_000.50 -> pool p within 1h30m escalate b after 1 business hour',
      'pool sdr { members dmitri, egor strategy weighted(dmitri=2, egor=1) }',
      'calendar c { hours mon, wed-fri 09:00-12:00, 13:00-18:00 }',
      'test "t" { at 2026-11-26T22:00:00.250Z roster { chen out 2026-12-21 to 2027-01-04 } expect unassigned }',
    ].join('\n'),
  );
  assert.equal(scopeOf(tokens, '-5'), 'constant.numeric.switchboard');
  assert.equal(scopeOf(tokens, '1_000.50'), 'constant.numeric.switchboard');
  assert.equal(scopeOf(tokens, '1h30m'), 'constant.numeric.duration.switchboard');
  assert.equal(scopeOf(tokens, 'hour'), 'keyword.other.unit.switchboard');
  assert.equal(scopeOf(tokens, 'weighted'), 'keyword.other.weighted.switchboard');
  assert.equal(scopeOf(tokens, 'dmitri', 1), 'variable.other.rep.switchboard');
  assert.equal(scopeOf(tokens, '=', 0), 'keyword.operator.assignment.switchboard');
  assert.equal(scopeOf(tokens, '2'), 'constant.numeric.switchboard');
  assert.equal(scopeOf(tokens, 'wed'), 'constant.language.weekday.switchboard');
  assert.equal(scopeOf(tokens, '13:00'), 'constant.numeric.time.switchboard');
  assert.equal(scopeOf(tokens, 'test'), 'storage.type.test.switchboard');
  assert.equal(scopeOf(tokens, '2026-11-26T22:00:00.250Z'), 'constant.numeric.timestamp.switchboard');
  assert.equal(scopeOf(tokens, '2027-01-04'), 'constant.numeric.date.switchboard');
  assert.equal(scopeOf(tokens, 'unassigned'), 'constant.language.unassigned.switchboard');
});

test('the team: rep items, caps per period, on shift, previous rep of', async () => {
  const tokens = await tokenize(
    [
      'rep igor { calendar nsk  cap 3 per day }',
      'pool national { members olga, igor  cap 20  cap 5 per week  on shift }',
      'rule returning: when email is set -> previous rep of email since 90d else pool national',
    ].join('\n'),
  );
  assert.equal(scopeOf(tokens, 'rep'), 'storage.type.rep.switchboard');
  assert.equal(scopeOf(tokens, 'igor'), 'entity.name.type.rep.switchboard');
  assert.equal(scopeOf(tokens, 'per'), 'keyword.other.per.switchboard');
  assert.equal(scopeOf(tokens, 'day'), 'keyword.other.unit.switchboard');
  assert.equal(scopeOf(tokens, 'week'), 'keyword.other.unit.switchboard');
  assert.equal(scopeOf(tokens, 'on'), 'keyword.other.switchboard');
  assert.equal(scopeOf(tokens, 'shift'), 'keyword.other.switchboard');
  assert.equal(scopeOf(tokens, 'previous'), 'keyword.other.previous.switchboard');
  assert.equal(scopeOf(tokens, 'rep', 1), 'keyword.other.rep.switchboard');
  assert.equal(scopeOf(tokens, 'email', 1), 'variable.other.field.switchboard');
  assert.equal(scopeOf(tokens, 'since'), 'keyword.other.switchboard');
  assert.equal(scopeOf(tokens, '90d'), 'constant.numeric.duration.switchboard');
});

test('a test roster says what reps already got', async () => {
  const tokens = await tokenize('  roster { anna assigned 5 today, boris assigned 2 this hour }');
  assert.equal(scopeOf(tokens, 'assigned'), 'keyword.other.switchboard');
  assert.equal(scopeOf(tokens, '5'), 'constant.numeric.switchboard');
  assert.equal(scopeOf(tokens, 'today'), 'keyword.other.switchboard');
  assert.equal(scopeOf(tokens, 'this'), 'keyword.other.switchboard');
  assert.equal(scopeOf(tokens, 'hour'), 'keyword.other.unit.switchboard');
});

test('a score: `score NAME {`, signed points (as fmt aligns them) and the conditions of its lines', async () => {
  const tokens = await tokenize(
    [
      'score fit_score {',
      '  +30 when employees >= 500',
      '  +15 when employees >= 50 and employees < 500',
      '   +5 when industry is set',
      '  -30 when email_domain in {"gmail.com", "yahoo.com"}',
      '}',
    ].join('\n'),
  );
  assert.equal(scopeOf(tokens, 'score'), 'storage.type.score.switchboard');
  assert.equal(scopeOf(tokens, 'fit_score'), 'entity.name.type.score.switchboard');
  assert.equal(scopeOf(tokens, '{'), 'punctuation.section.braces.begin.switchboard');
  assert.equal(scopeOf(tokens, '+30'), 'constant.numeric.switchboard');
  assert.equal(scopeOf(tokens, '+15'), 'constant.numeric.switchboard');
  assert.equal(scopeOf(tokens, '+5'), 'constant.numeric.switchboard');
  assert.equal(scopeOf(tokens, '-30'), 'constant.numeric.switchboard');
  assert.equal(scopeOf(tokens, 'when'), 'keyword.control.switchboard');
  assert.equal(scopeOf(tokens, 'when', 3), 'keyword.control.switchboard');
  assert.equal(scopeOf(tokens, 'employees'), 'variable.other.switchboard');
  assert.equal(scopeOf(tokens, '>='), 'keyword.operator.comparison.switchboard');
  assert.equal(scopeOf(tokens, '500'), 'constant.numeric.switchboard');
  assert.equal(scopeOf(tokens, 'and'), 'keyword.operator.logical.switchboard');
  assert.equal(scopeOf(tokens, 'is'), 'keyword.operator.word.switchboard');
  assert.equal(scopeOf(tokens, 'in'), 'keyword.operator.word.switchboard');
  assert.equal(scopeOf(tokens, 'gmail.com'), 'string.quoted.double.switchboard');
  assert.equal(scopeOf(tokens, '}', 1), 'punctuation.section.braces.end.switchboard');
  assert.equal(tokens.filter((t) => t.text.trim() !== '' && t.scopes.length === 1).length, 0);
});

test('tags: the declaration, the `tag` clause of a rule (wrapped too), expectations of scores and tags', async () => {
  const tokens = await tokenize(
    [
      'tags { sms, call, email_first, create_task }',
      'rule hot:  when fit_score >= 70 -> pool senior within 15m tag call, create_task',
      'rule paid: when source = google_ads -> pool sdr within 15m tag sms',
      'rule long: when intent = high',
      '    -> pool senior',
      '       escalate backup after 30m',
      '       tag email_first',
      'test "t" {',
      '  lead { id: "1", employees: 800 }',
      '  expect pool senior score fit_score 75 tag call',
      '  expect score fit_score -5',
      '}',
    ].join('\n'),
  );
  assert.equal(scopeOf(tokens, 'tags'), 'storage.type.tags.switchboard');
  assert.ok(tokens.find((t) => t.text === 'sms').scopes.includes('meta.tags.switchboard'));
  assert.equal(scopeOf(tokens, 'sms'), 'entity.name.type.tag.switchboard');
  assert.equal(scopeOf(tokens, 'create_task'), 'entity.name.type.tag.switchboard');
  assert.equal(scopeOf(tokens, ','), 'punctuation.separator.comma.switchboard');
  assert.equal(scopeOf(tokens, '}'), 'punctuation.section.braces.end.switchboard');
  // rule hot
  assert.equal(scopeOf(tokens, 'fit_score'), 'variable.other.switchboard');
  assert.equal(scopeOf(tokens, 'tag'), 'keyword.other.tag.switchboard');
  assert.equal(scopeOf(tokens, 'call', 1), 'entity.name.reference.switchboard');
  assert.equal(scopeOf(tokens, ',', 3), 'punctuation.separator.comma.switchboard');
  assert.equal(scopeOf(tokens, 'create_task', 1), 'entity.name.reference.switchboard');
  // rule paid, and the wrapped rule long
  assert.equal(scopeOf(tokens, 'tag', 1), 'keyword.other.tag.switchboard');
  assert.equal(scopeOf(tokens, 'sms', 1), 'entity.name.reference.switchboard');
  assert.equal(scopeOf(tokens, 'tag', 2), 'keyword.other.tag.switchboard');
  assert.equal(scopeOf(tokens, 'email_first', 1), 'entity.name.reference.switchboard');
  // the test's expectations
  assert.equal(scopeOf(tokens, 'score'), 'keyword.other.score.switchboard');
  assert.equal(scopeOf(tokens, 'fit_score', 1), 'entity.name.reference.switchboard');
  assert.equal(scopeOf(tokens, '75'), 'constant.numeric.switchboard');
  assert.equal(scopeOf(tokens, 'tag', 3), 'keyword.other.tag.switchboard');
  assert.equal(scopeOf(tokens, 'call', 2), 'entity.name.reference.switchboard');
  assert.equal(scopeOf(tokens, 'score', 1), 'keyword.other.score.switchboard');
  assert.equal(scopeOf(tokens, '-5'), 'constant.numeric.switchboard');
});

test('a tags declaration over several lines, and one whose `}` is missing ends before the next item', async () => {
  const tokens = await tokenize(
    [
      'tags {',
      '  sms,  # by text',
      '  call,',
      '}',
      'pool senior { members anna }',
      'tags { task, lost',
      'pool backup { members boris }',
    ].join('\n'),
  );
  assert.equal(scopeOf(tokens, 'sms'), 'entity.name.type.tag.switchboard');
  assert.equal(scopeOf(tokens, '#'), 'punctuation.definition.comment.switchboard');
  assert.equal(scopeOf(tokens, 'call'), 'entity.name.type.tag.switchboard');
  assert.equal(scopeOf(tokens, '}'), 'punctuation.section.braces.end.switchboard');
  assert.equal(scopeOf(tokens, 'pool'), 'storage.type.pool.switchboard');
  assert.ok(!tokens.find((t) => t.text === 'pool').scopes.includes('meta.tags.switchboard'));
  assert.equal(scopeOf(tokens, 'lost'), 'entity.name.type.tag.switchboard');
  assert.equal(scopeOf(tokens, 'pool', 1), 'storage.type.pool.switchboard');
  assert.equal(scopeOf(tokens, 'backup'), 'entity.name.type.pool.switchboard');
  assert.ok(!tokens.find((t) => t.text === 'boris').scopes.includes('meta.tags.switchboard'));
});

test('`score`, `tags` and `tag` as a field, a value or a rep are not keywords', async () => {
  const tokens = await tokenize(
    [
      'schema lead {',
      '  score: int',
      '  tags:  string?',
      '  tag: enum { hot, cold }',
      '}',
      'pool p { members anna, tag strategy round_robin }',
      'rule r: when score >= 70 and tags is set and tag in {score, tags} -> pool p tag vip',
      'rule s: when score not in {1, 2} or x = tag -> previous rep of score',
      '  lead { score: 80, tag: hot }',
    ].join('\n'),
  );
  assert.equal(scopeOf(tokens, 'score'), 'variable.other.property.switchboard');
  assert.equal(scopeOf(tokens, 'int'), 'support.type.primitive.switchboard');
  assert.equal(scopeOf(tokens, 'tags'), 'variable.other.property.switchboard');
  assert.equal(scopeOf(tokens, 'tag'), 'variable.other.property.switchboard');
  assert.equal(scopeOf(tokens, 'enum'), 'storage.type.switchboard');
  // a rep named tag
  assert.equal(scopeOf(tokens, 'tag', 1), 'variable.other.switchboard');
  assert.equal(scopeOf(tokens, 'strategy'), 'keyword.other.strategy.switchboard');
  // fields and values in conditions; the rule's own tag clause still is one
  assert.equal(scopeOf(tokens, 'score', 1), 'variable.other.switchboard');
  assert.equal(scopeOf(tokens, 'tags', 1), 'variable.other.switchboard');
  assert.equal(scopeOf(tokens, 'tag', 2), 'variable.other.switchboard');
  assert.equal(scopeOf(tokens, 'score', 2), 'variable.other.switchboard');
  assert.equal(scopeOf(tokens, 'tags', 2), 'variable.other.switchboard');
  assert.equal(scopeOf(tokens, 'tag', 3), 'keyword.other.tag.switchboard');
  assert.equal(scopeOf(tokens, 'vip'), 'entity.name.reference.switchboard');
  assert.equal(scopeOf(tokens, 'score', 3), 'variable.other.switchboard');
  assert.equal(scopeOf(tokens, 'tag', 4), 'variable.other.switchboard');
  assert.equal(scopeOf(tokens, 'score', 4), 'variable.other.field.switchboard');
  // a test lead
  assert.equal(scopeOf(tokens, 'score', 5), 'variable.other.property.switchboard');
  assert.equal(scopeOf(tokens, 'tag', 5), 'variable.other.property.switchboard');
});

test('every keyword of grammar/switchboard.pest is highlighted as a keyword', async () => {
  const pest = fs.readFileSync(path.join(repoDir, 'grammar', 'switchboard.pest'), 'utf8');
  const keywords = [...pest.matchAll(/^kw_\w+\s*=\s*@\{\s*"(\w+)"/gm)].map((m) => m[1]);
  const reserved = pest.match(/^reserved\s*=\s*@\{([\s\S]*?)\}/m)[1];
  keywords.push(...[...reserved.matchAll(/"(\w+)"/g)].map((m) => m[1]));
  assert.ok(keywords.length >= 50, `found only ${keywords.length} keywords in the pest grammar`);
  for (const keyword of new Set(keywords)) {
    const tokens = await tokenize(keyword);
    assert.equal(tokens.length, 1, keyword);
    const scope = tokens[0].scopes[tokens[0].scopes.length - 1];
    assert.match(scope, /^(keyword|storage\.type|constant\.language)\./, `\`${keyword}\` is ${scope}`);
  }
});

test('every token of the example policies and tests has a scope', async () => {
  const dir = path.join(repoDir, 'examples');
  const files = fs.readdirSync(dir).filter((name) => name.endsWith('.route'));
  assert.ok(files.includes('routing.route') && files.includes('routing.test.route'));
  for (const name of files) {
    const tokens = await tokenize(fs.readFileSync(path.join(dir, name), 'utf8'));
    const bare = tokens.filter((t) => t.text.trim() !== '' && t.scopes.length === 1);
    assert.deepEqual(
      bare.map((t) => `${name}:${t.line}: \`${t.text}\``),
      [],
      `tokens with no scope but source.switchboard in ${name}`,
    );
  }
});
