// The build every store on the SQL kit shares (the kit bundled in), for a runtime without Node
// built-ins: the store reads nothing from disk, its migrations are in the code.
import { defineConfig } from 'tsup';
import { sqlStoreBuild } from '../sql-kit/tsup.ts';

export default defineConfig({ ...sqlStoreBuild, platform: 'neutral', shims: false });
