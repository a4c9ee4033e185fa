import { buildLogQL, buildLogsQuery, buildSearch } from '../builders/logs';
import { buildTraceQL, isValidDuration } from '../builders/traces';
import { splitWords, quoteString } from '../builders/common';

describe('logs builder: LogQL', () => {
  it('matches every stream when nothing is chosen', () => {
    expect(buildLogQL({})).toBe('{service_name=~".+"}');
  });

  it('puts service and one level into the selector', () => {
    expect(buildLogQL({ service: 'checkout', severities: ['error'] })).toBe(
      '{service_name="checkout", detected_level="error"}'
    );
  });

  it('uses a regex matcher for several levels, and line filters for words and phrases', () => {
    expect(buildLogQL({ severities: ['warn', 'error'], words: 'timeout "payment failed"' })).toBe(
      '{detected_level=~"warn|error"} |= "timeout" |= "payment failed"'
    );
  });

  it('escapes quotes and backslashes', () => {
    expect(buildLogQL({ service: 'we"ird\\svc', words: 'a\\b' })).toBe(
      '{service_name="we\\"ird\\\\svc"} |= "a\\\\b"'
    );
  });
});

describe('logs builder: full-text search', () => {
  it('is empty when nothing is chosen', () => {
    expect(buildSearch({})).toBe('');
  });

  it('joins service, severity ranges and words with AND', () => {
    expect(buildSearch({ service: 'checkout', severities: ['error'], words: 'timeout' })).toBe(
      'service.name:checkout AND (severity_number:>=17 AND severity_number:<=20) AND timeout'
    );
  });

  it('ORs several severities, quotes phrases and values with special characters', () => {
    expect(buildSearch({ service: 'my-svc', severities: ['warn', 'fatal'], words: '"payment failed" x:y' })).toBe(
      'service.name:"my-svc" AND ((severity_number:>=13 AND severity_number:<=16) OR ' +
        '(severity_number:>=21 AND severity_number:<=24)) AND "payment failed" AND "x:y"'
    );
  });

  it('buildLogsQuery picks the language', () => {
    expect(buildLogsQuery('search', { service: 'a' })).toBe('service.name:a');
    expect(buildLogsQuery('logql', { service: 'a' })).toBe('{service_name="a"}');
  });
});

describe('traces builder', () => {
  it('is {} when nothing is chosen', () => {
    expect(buildTraceQL({})).toBe('{}');
  });

  it('builds the full spanset filter', () => {
    expect(
      buildTraceQL({ service: 'checkout', spanName: 'GET /x', status: 'error', minDuration: '100ms', maxDuration: '2s' })
    ).toBe('{resource.service.name="checkout" && name="GET /x" && status=error && duration>100ms && duration<2s}');
  });

  it('leaves out invalid durations', () => {
    expect(buildTraceQL({ status: 'ok', minDuration: '100', maxDuration: 'soon' })).toBe('{status=ok}');
    expect(isValidDuration('1.5s')).toBe(true);
    expect(isValidDuration('250us')).toBe(true);
    expect(isValidDuration('5')).toBe(false);
  });
});

describe('common', () => {
  it('splits words and phrases', () => {
    expect(splitWords(' a  "b c" d ')).toEqual(['a', 'b c', 'd']);
    expect(splitWords('')).toEqual([]);
  });
  it('quotes newlines', () => {
    expect(quoteString('a\nb')).toBe('"a\\nb"');
  });
});
