import { render, screen } from '@testing-library/react';
import userEventLib from '@testing-library/user-event';
import React, { useState } from 'react';

import { DataSourceSettings } from '@grafana/data';

import { SightlineOptions, SightlineSecureJsonData } from '../../types';
import { ConfigEditor } from '../ConfigEditor';

// No delay between keystrokes: the tests type a lot, and CI machines are slow.
const userEvent = userEventLib.setup({ delay: null });

type Settings = DataSourceSettings<SightlineOptions, SightlineSecureJsonData>;

function baseSettings(over: Partial<Settings> = {}): Settings {
  return {
    id: 1,
    uid: 'u',
    orgId: 1,
    name: 'Sightline',
    type: 'sightline-observability-datasource',
    typeName: 'Sightline',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    withCredentials: false,
    readOnly: false,
    jsonData: {},
    secureJsonFields: {},
    version: 1,
    ...over,
  } as Settings;
}

function renderConfig(initial: Settings) {
  const changes: Settings[] = [];
  function Host() {
    const [opts, setOpts] = useState(initial);
    return (
      <ConfigEditor
        options={opts}
        onOptionsChange={(o) => {
          changes.push(o);
          setOpts(o);
        }}
      />
    );
  }
  render(<Host />);
  return { last: () => changes[changes.length - 1] };
}

describe('ConfigEditor', () => {
  it('writes URL, tenant, user and TLS to settings/jsonData and secrets to secureJsonData', async () => {
    const { last } = renderConfig(baseSettings());
    await userEvent.type(screen.getByLabelText('URL'), 'http://localhost:9750');
    await userEvent.type(screen.getByLabelText('Tenant'), 'team-a');
    await userEvent.type(screen.getByLabelText('Basic auth user'), 'alice');
    await userEvent.type(screen.getByLabelText('Basic auth password'), 's3cret');
    await userEvent.type(screen.getByLabelText('Bearer token'), 'tok');
    await userEvent.click(screen.getByLabelText('Skip TLS verification'));

    const s = last();
    expect(s.url).toBe('http://localhost:9750');
    expect(s.jsonData).toEqual({ tenant: 'team-a', tlsSkipVerify: true });
    expect(s.basicAuth).toBe(true);
    expect(s.basicAuthUser).toBe('alice');
    expect(s.secureJsonData).toEqual({ basicAuthPassword: 's3cret', bearerToken: 'tok' });
    // Secrets never land in jsonData.
    expect(JSON.stringify(s.jsonData)).not.toContain('s3cret');
  });

  it('shows configured secrets as such and resets them', async () => {
    const { last } = renderConfig(baseSettings({ secureJsonFields: { basicAuthPassword: true, bearerToken: true } }));
    const resets = screen.getAllByRole('button', { name: /reset/i });
    expect(resets).toHaveLength(2);
    await userEvent.click(resets[1]);
    expect(last().secureJsonFields).toEqual({ basicAuthPassword: true, bearerToken: false });
    expect(last().secureJsonData).toEqual({ bearerToken: '' });
  });
});
