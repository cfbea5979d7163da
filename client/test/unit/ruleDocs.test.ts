import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { describePage, normaliseCode, pageCode } from '../../src/ruleDocs';

const pages = path.join(__dirname, '..', '..', '..', 'docs', 'rules');

test('every rule page of docs/rules (what the VSIX ships) is offered with its name and summary', () => {
  const codes = readdirSync(pages).map(pageCode).filter((code) => code !== undefined);
  assert.ok(codes.includes('GG201') && codes.length >= 15);
  const page = describePage('GG201', readFileSync(path.join(pages, 'GG201.md'), 'utf8'));
  assert.deepEqual(page, {
    code: 'GG201',
    name: 'none-assigned-to-parameter',
    summary: '`None` written over a registered parameter.',
  });
});

test('only GGNNN.md files are pages; codes are normalised', () => {
  assert.equal(pageCode('README.md'), undefined);
  assert.equal(pageCode('GG201.txt'), undefined);
  assert.equal(normaliseCode(' gg201 '), 'GG201');
  assert.equal(normaliseCode('GG2'), undefined);
  assert.equal(normaliseCode(201), undefined);
});
