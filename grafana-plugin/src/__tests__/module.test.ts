import { plugin } from '../module';
import { ConfigEditor } from '../components/ConfigEditor';
import { QueryEditor } from '../components/QueryEditor';
import { DataSource } from '../datasource';

describe('module', () => {
  it('registers the datasource with its query and config editors', () => {
    expect(plugin.DataSourceClass).toBe(DataSource);
    expect(plugin.components.QueryEditor).toBe(QueryEditor);
    expect(plugin.components.ConfigEditor).toBe(ConfigEditor);
  });
});
