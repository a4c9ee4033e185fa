import { act, fireEvent, render, screen } from '@testing-library/react';
import userEventLib from '@testing-library/user-event';
import React, { useState } from 'react';

import type { DataSource } from '../../datasource';
import { SightlineQuery } from '../../types';
import { QueryEditor, switchQueryType } from '../QueryEditor';

// No delay between keystrokes: the tests type a lot, and CI machines are slow.
const userEvent = userEventLib.setup({ delay: null });

/** A stand-in datasource: only the resource lookups the editor makes. */
function fakeDatasource(answers: Record<string, string[]> = {}) {
  const fetchStrings = jest.fn((resource: string, params: Record<string, string> = {}) => {
    const key = params.label ?? params.tag ? `${resource}:${params.label ?? params.tag}` : resource;
    return Promise.resolve(answers[key] ?? answers[resource] ?? []);
  });
  return { ds: { fetchStrings } as unknown as DataSource, fetchStrings };
}

/** Renders the editor as Grafana does: a controlled query that onChange replaces. */
function renderEditor(initial: SightlineQuery, ds: DataSource) {
  const changes: SightlineQuery[] = [];
  const onRunQuery = jest.fn();
  function Host() {
    const [q, setQ] = useState(initial);
    return (
      <QueryEditor
        query={q}
        datasource={ds}
        onRunQuery={onRunQuery}
        onChange={(next) => {
          changes.push(next);
          setQ(next);
        }}
      />
    );
  }
  render(<Host />);
  return { changes, onRunQuery, last: () => changes[changes.length - 1] };
}

describe('switchQueryType', () => {
  it('keeps refId/datasource/hide, drops the old fields and sets the defaults', () => {
    const q: SightlineQuery = {
      refId: 'A',
      datasource: { uid: 'x' },
      queryType: 'metrics',
      expr: 'up',
      instant: true,
      exemplars: true,
    };
    expect(switchQueryType(q, 'logs')).toEqual({
      refId: 'A',
      datasource: { uid: 'x' },
      queryType: 'logs',
      expr: '',
      logsMode: 'logql',
      direction: 'backward',
    });
    expect(switchQueryType(q, 'traces')).toEqual({
      refId: 'A',
      datasource: { uid: 'x' },
      queryType: 'traces',
      expr: '',
      tracesMode: 'search',
    });
    expect(switchQueryType(q, 'metrics')).toEqual({
      refId: 'A',
      datasource: { uid: 'x' },
      queryType: 'metrics',
      expr: '',
      format: 'time_series',
    });
  });
  it('carries a trace ID between correlate and traces', () => {
    const c: SightlineQuery = { refId: 'A', queryType: 'correlate', traceId: 'abc' };
    expect(switchQueryType(c, 'traces')).toEqual({ refId: 'A', queryType: 'traces', tracesMode: 'traceId', traceId: 'abc' });
    expect(switchQueryType({ refId: 'A', queryType: 'traces', traceId: 'abc' }, 'correlate')).toEqual({
      refId: 'A',
      queryType: 'correlate',
      traceId: 'abc',
    });
  });
});

describe('QueryEditor', () => {
  it('switches the query type and emits the new query', async () => {
    const { ds } = fakeDatasource();
    const { last } = renderEditor({ refId: 'A', queryType: 'metrics', expr: 'up' }, ds);
    expect(screen.getByLabelText('Metrics query')).toHaveValue('up');

    await userEvent.click(screen.getByRole('radio', { name: 'Logs' }));
    expect(last()).toEqual({ refId: 'A', queryType: 'logs', expr: '', logsMode: 'logql', direction: 'backward' });
    // An empty logs query opens the builder.
    expect(screen.getByLabelText('Words')).toBeInTheDocument();

    await userEvent.click(screen.getByRole('radio', { name: 'Traces' }));
    expect(last()).toEqual({ refId: 'A', queryType: 'traces', expr: '', tracesMode: 'search' });

    await userEvent.click(screen.getByRole('radio', { name: 'Correlate' }));
    expect(last()).toEqual({ refId: 'A', queryType: 'correlate', traceId: '' });
    await userEvent.type(screen.getByLabelText('Trace ID'), 'abc123');
    expect(last()).toEqual({ refId: 'A', queryType: 'correlate', traceId: 'abc123' });
  });

  it('metrics options set instant, format, exemplars, step and legend', async () => {
    const { ds } = fakeDatasource();
    const { last, onRunQuery } = renderEditor({ refId: 'A', queryType: 'metrics', expr: 'up' }, ds);
    await userEvent.click(screen.getByRole('radio', { name: 'Instant' }));
    expect(last()).toMatchObject({ instant: true });
    await userEvent.click(screen.getByRole('radio', { name: 'Table' }));
    expect(last()).toMatchObject({ format: 'table' });
    await userEvent.click(screen.getByLabelText('Exemplars'));
    expect(last()).toMatchObject({ exemplars: true });
    await userEvent.type(screen.getByLabelText('Step'), '30s');
    await userEvent.type(screen.getByLabelText('Legend'), '{{{{job}}');
    expect(last()).toEqual({
      refId: 'A',
      queryType: 'metrics',
      expr: 'up',
      instant: true,
      format: 'table',
      exemplars: true,
      step: '30s',
      legendFormat: '{{job}}',
    });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('completes metric names, then label values from the resources', async () => {
    const { ds, fetchStrings } = fakeDatasource({
      'metrics/names': ['http_requests_total', 'up'],
      'metrics/label-values:job': ['node', 'api'],
    });
    const { last } = renderEditor({ refId: 'A', queryType: 'metrics', expr: '' }, ds);
    const field = screen.getByLabelText('Metrics query');
    await userEvent.type(field, 'http');
    const option = await screen.findByRole('option', { name: 'http_requests_total' });
    expect(option).toBeInTheDocument();
    await userEvent.keyboard('{Enter}');
    expect(last().expr).toBe('http_requests_total');

    await userEvent.type(field, '{{');
    // The label names of that metric, asked for as the brace is typed.
    expect(fetchStrings).toHaveBeenLastCalledWith('metrics/labels', { match: 'http_requests_total' }, undefined);
    await userEvent.type(field, 'job="');
    await screen.findByRole('option', { name: 'node' });
    expect(fetchStrings).toHaveBeenCalledWith('metrics/label-values', { label: 'job', match: 'http_requests_total' }, undefined);
    await userEvent.keyboard('{ArrowDown}{Enter}');
    expect(last().expr).toBe('http_requests_total{job="api"');
  });

  it('logs builder writes LogQL, and Search when the language is switched', async () => {
    const { ds } = fakeDatasource({ 'logs/label-values:service_name': ['checkout', 'cart'] });
    const { last, onRunQuery } = renderEditor({ refId: 'A', queryType: 'logs', expr: '', logsMode: 'logql' }, ds);

    const service = screen.getByLabelText('Service');
    await userEvent.click(service);
    await userEvent.click(await screen.findByRole('option', { name: 'checkout' }));
    expect(last().expr).toBe('{service_name="checkout"}');

    await userEvent.click(screen.getByLabelText('error'));
    expect(last().expr).toBe('{service_name="checkout", detected_level="error"}');
    expect(onRunQuery).toHaveBeenCalled();

    await userEvent.type(screen.getByLabelText('Words'), 'timeout');
    expect(last().expr).toBe('{service_name="checkout", detected_level="error"} |= "timeout"');

    await userEvent.click(screen.getByRole('radio', { name: 'Search' }));
    expect(last()).toMatchObject({
      logsMode: 'search',
      expr: 'service.name:checkout AND (severity_number:>=17 AND severity_number:<=20) AND timeout',
    });
  });

  it('logs of a trace: the Trace ID language takes a trace and a span, as the span link writes them', async () => {
    const { ds } = fakeDatasource({});
    const { last } = renderEditor(
      { refId: 'A', queryType: 'logs', logsMode: 'trace', traceId: 'aa', spanId: 'bb' },
      ds
    );
    expect(screen.getByLabelText('Logs trace ID')).toHaveValue('aa');
    expect(screen.getByLabelText('Logs span ID')).toHaveValue('bb');
    expect(screen.queryByLabelText('Logs query')).toBeNull();
    await userEvent.clear(screen.getByLabelText('Logs span ID'));
    expect(last()).toMatchObject({ logsMode: 'trace', traceId: 'aa', spanId: '' });

    await userEvent.click(screen.getByRole('radio', { name: 'LogQL' }));
    expect(last().logsMode).toBe('logql');
    expect(screen.queryByLabelText('Logs trace ID')).toBeNull();
  });

  it('logs code editor completes labels and keeps direction and limit', async () => {
    const { ds, fetchStrings } = fakeDatasource({ 'logs/labels': ['service_name', 'severity'] });
    const { last } = renderEditor({ refId: 'A', queryType: 'logs', expr: '{}', logsMode: 'logql' }, ds);
    const field = screen.getByLabelText('Logs query');
    act(() => {
      (field as HTMLTextAreaElement).setSelectionRange(1, 1);
    });
    fireEvent.change(field, { target: { value: '{serv}', selectionStart: 5, selectionEnd: 5 } });
    await screen.findByRole('option', { name: 'service_name' });
    expect(fetchStrings).toHaveBeenCalledWith('logs/labels', {}, undefined);

    await userEvent.click(screen.getByRole('radio', { name: 'Oldest first' }));
    await userEvent.clear(screen.getByLabelText('Limit'));
    await userEvent.type(screen.getByLabelText('Limit'), '50');
    expect(last()).toMatchObject({ direction: 'forward', limit: 50 });
  });

  it('traces builder writes TraceQL; trace-ID mode takes an ID', async () => {
    const { ds } = fakeDatasource({ services: ['checkout'] });
    const { last } = renderEditor({ refId: 'A', queryType: 'traces', expr: '', tracesMode: 'search' }, ds);
    await userEvent.type(screen.getByLabelText('Service'), 'checkout');
    await userEvent.type(screen.getByLabelText('Span name'), 'GET /x');
    await userEvent.click(screen.getByRole('radio', { name: 'Error' }));
    await userEvent.type(screen.getByLabelText('Min duration'), '100ms');
    expect(last().expr).toBe('{resource.service.name="checkout" && name="GET /x" && status=error && duration>100ms}');
    await userEvent.type(screen.getByLabelText('Limit'), '5');
    expect(last().limit).toBe(5);

    await userEvent.click(screen.getByRole('radio', { name: 'Trace ID' }));
    await userEvent.type(screen.getByRole('textbox', { name: 'Trace ID' }), '4bf92f3577b34da6a3ce929d0e0e4736');
    expect(last()).toMatchObject({ tracesMode: 'traceId', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
  });

  it('shows a logsVolume query as a logs query', () => {
    const { ds } = fakeDatasource();
    renderEditor({ refId: 'A', queryType: 'logsVolume', expr: '{a="b"}' }, ds);
    expect(screen.getByRole('radio', { name: 'Logs' })).toBeChecked();
    expect(screen.getByLabelText('Logs query')).toHaveValue('{a="b"}');
  });
});
