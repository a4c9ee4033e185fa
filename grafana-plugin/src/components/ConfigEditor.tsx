import React, { ChangeEvent } from 'react';

import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Field, FieldSet, InlineSwitch, Input, SecretInput, Stack } from '@grafana/ui';

import { SightlineOptions, SightlineSecureJsonData } from '../types';

export type Props = DataSourcePluginOptionsEditorProps<SightlineOptions, SightlineSecureJsonData>;

/**
 * Settings: the URL of Sightline's HTTP port, the tenant (X-Scope-OrgID),
 * basic auth or a bearer token (both secrets stay in secureJsonData, which
 * Grafana encrypts and never sends back: only secureJsonFields says whether
 * one is set), and TLS verification.
 */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData } = options;
  const secureJsonFields = options.secureJsonFields ?? {};
  const secureJsonData = (options.secureJsonData ?? {}) as SightlineSecureJsonData;

  const setJson = <K extends keyof SightlineOptions>(key: K, value: SightlineOptions[K]) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, [key]: value } });

  const setSecret = (key: keyof SightlineSecureJsonData) => (e: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, [key]: e.currentTarget.value } });

  const resetSecret = (key: keyof SightlineSecureJsonData) => () =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, [key]: false },
      secureJsonData: { ...secureJsonData, [key]: '' },
    });

  return (
    <Stack direction="column" gap={2}>
      <FieldSet label="Connection">
        <Field label="URL" description="Sightline's HTTP address, e.g. http://localhost:9750" required>
          <Input
            id="sightline-url"
            aria-label="URL"
            width={50}
            placeholder="http://localhost:9750"
            value={options.url ?? ''}
            onChange={(e) => onOptionsChange({ ...options, url: e.currentTarget.value.trim() })}
          />
        </Field>
        <Field label="Tenant" description="Sent as the X-Scope-OrgID header; empty = the default tenant">
          <Input
            id="sightline-tenant"
            aria-label="Tenant"
            width={30}
            value={jsonData.tenant ?? ''}
            onChange={(e) => setJson('tenant', e.currentTarget.value.trim())}
          />
        </Field>
        <Field label="Skip TLS verification" description="Accept any certificate (self-signed test setups only)">
          <InlineSwitch
            aria-label="Skip TLS verification"
            value={!!jsonData.tlsSkipVerify}
            onChange={(e) => setJson('tlsSkipVerify', e.currentTarget.checked)}
          />
        </Field>
      </FieldSet>

      <FieldSet label="Authentication">
        <Field label="Basic auth user">
          <Input
            id="sightline-basic-user"
            aria-label="Basic auth user"
            width={30}
            value={options.basicAuthUser ?? ''}
            onChange={(e) => {
              // Grafana's standard basic-auth settings, which the backend's
              // HTTP client (and provisioning: basicAuth, basicAuthUser) use.
              const user = e.currentTarget.value;
              onOptionsChange({ ...options, basicAuth: user !== '', basicAuthUser: user });
            }}
          />
        </Field>
        <Field label="Basic auth password">
          <SecretInput
            id="sightline-basic-password"
            aria-label="Basic auth password"
            width={30}
            isConfigured={!!secureJsonFields.basicAuthPassword}
            value={secureJsonData.basicAuthPassword ?? ''}
            onChange={setSecret('basicAuthPassword')}
            onReset={resetSecret('basicAuthPassword')}
          />
        </Field>
        <Field label="Bearer token" description="Sent as Authorization: Bearer <token> (instead of basic auth)">
          <SecretInput
            id="sightline-bearer-token"
            aria-label="Bearer token"
            width={50}
            isConfigured={!!secureJsonFields.bearerToken}
            value={secureJsonData.bearerToken ?? ''}
            onChange={setSecret('bearerToken')}
            onReset={resetSecret('bearerToken')}
          />
        </Field>
      </FieldSet>
    </Stack>
  );
}
