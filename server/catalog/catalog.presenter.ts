import type { CatalogState } from "./catalog.service.js";
import type { CatalogComponent } from "./catalog.types.js";

export function presentComponentSummary(component: CatalogComponent) {
  return {
    name: component.name,
    description: component.description,
    platforms: component.platforms,
    dependsOn: component.dependsOn,
    ports: component.ports,
    databases: component.sql.map((sql) => ({ database: sql.database, dialect: sql.dialect })),
    pipelines: Object.keys(component.pipelines),
  };
}

/** The full descriptor with pipelines expanded. Variables show their flags and defaults; no site values exist here. */
export function presentComponent(component: CatalogComponent) {
  return {
    ...presentComponentSummary(component),
    artifacts: component.artifacts,
    sql: component.sql,
    config: component.config,
    chart: component.chart ?? null,
    variables: component.variables,
    pipelines: component.pipelines,
    includes: component.includes,
    file: component.file,
  };
}

export function presentCatalogState(state: CatalogState) {
  return { loadedAt: state.loadedAt, valid: state.problems.length === 0, problems: state.problems };
}
