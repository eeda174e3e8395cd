// The build every store on the SQL kit shares: the kit is bundled in, declarations included.
import { sqlStoreBuild } from '../sql-kit/tsup.ts';

export default sqlStoreBuild;
