/**
 * Every page of the console, the roles that may open it, and whether it appears in the
 * navigation. Roles mirror the API's `access` lists so nobody is shown a page that would
 * only answer 403.
 */
import type { Role } from "./api/types";
import { ArtifactDetailPage } from "./pages/ArtifactDetailPage";
import { ArtifactsPage } from "./pages/ArtifactsPage";
import { ReleaseDetailPage } from "./pages/ReleaseDetailPage";
import { NewReleasePage, RELEASE_WRITERS, ReleasesPage } from "./pages/ReleasesPage";
import { SqlQueuePage } from "./pages/SqlQueuePage";
import { SqlScriptPage } from "./pages/SqlScriptPage";
import { BundleBuilderPage } from "./pages/bundles/BundleBuilderPage";
import { BundlePage } from "./pages/bundles/BundlePage";
import { BUNDLE_BUILDERS, BundlesPage } from "./pages/bundles/BundlesPage";
import { DashboardPage } from "./pages/DashboardPage";
import { DeploymentPage } from "./pages/deployments/DeploymentPage";
import { DeploymentsPage } from "./pages/deployments/DeploymentsPage";
import { StartDeploymentPage } from "./pages/deployments/StartDeploymentPage";
import { DEPLOYERS } from "./pages/deployments/types";
import { CatalogComponentPage, CatalogPage } from "./pages/CatalogPage";
import { CustomerPage } from "./pages/CustomerPage";
import { CustomersPage } from "./pages/CustomersPage";
import { SitePage } from "./pages/SitePage";
import { TokensPage } from "./pages/TokensPage";
import { UploadPage } from "./pages/UploadPage";
import { UsersPage } from "./pages/UsersPage";

export interface PageRoute {
  path: string;
  /** Shown in the navigation when set. */
  navLabel?: string;
  /** The navigation entry that stays highlighted on this page. */
  section: string;
  roles: readonly Role[] | "authenticated";
  render(params: Record<string, string>): React.ReactNode;
}

export const PAGE_ROUTES: PageRoute[] = [
  { path: "/dashboard", navLabel: "Dashboard", section: "/dashboard", roles: "authenticated", render: () => <DashboardPage /> },
  { path: "/artifacts", navLabel: "Artifacts", section: "/artifacts", roles: "authenticated", render: () => <ArtifactsPage /> },
  {
    path: "/artifacts/:component/:version/:filename",
    section: "/artifacts",
    roles: "authenticated",
    render: (p) => <ArtifactDetailPage component={p.component!} version={p.version!} filename={p.filename!} />,
  },
  { path: "/upload", navLabel: "Upload", section: "/upload", roles: ["ci", "admin"], render: () => <UploadPage /> },
  { path: "/sql", navLabel: "SQL review", section: "/sql", roles: "authenticated", render: () => <SqlQueuePage /> },
  { path: "/sql/:id", section: "/sql", roles: "authenticated", render: (p) => <SqlScriptPage id={p.id!} /> },
  { path: "/releases", navLabel: "Releases", section: "/releases", roles: "authenticated", render: () => <ReleasesPage /> },
  { path: "/releases/new", section: "/releases", roles: RELEASE_WRITERS, render: () => <NewReleasePage /> },
  {
    path: "/releases/:product/:version",
    section: "/releases",
    roles: "authenticated",
    render: (p) => <ReleaseDetailPage product={p.product!} version={p.version!} />,
  },
  { path: "/customers", navLabel: "Customers & sites", section: "/customers", roles: "authenticated", render: () => <CustomersPage /> },
  { path: "/customers/:name", section: "/customers", roles: "authenticated", render: (p) => <CustomerPage name={p.name!} /> },
  { path: "/sites/:id", section: "/customers", roles: "authenticated", render: (p) => <SitePage id={p.id!} /> },
  { path: "/bundles", navLabel: "Bundles", section: "/bundles", roles: "authenticated", render: () => <BundlesPage /> },
  // Before /bundles/:id, which would otherwise take "new" for an id.
  { path: "/bundles/new", section: "/bundles", roles: BUNDLE_BUILDERS, render: () => <BundleBuilderPage /> },
  { path: "/bundles/:id", section: "/bundles", roles: "authenticated", render: (p) => <BundlePage id={p.id!} /> },
  { path: "/deployments", navLabel: "Deployments", section: "/deployments", roles: "authenticated", render: () => <DeploymentsPage /> },
  // Before /deployments/:id, which would otherwise take "new" for an id.
  { path: "/deployments/new", section: "/deployments", roles: DEPLOYERS, render: () => <StartDeploymentPage /> },
  { path: "/deployments/:id", section: "/deployments", roles: "authenticated", render: (p) => <DeploymentPage id={p.id!} /> },
  { path: "/catalog", navLabel: "Catalog", section: "/catalog", roles: "authenticated", render: () => <CatalogPage /> },
  { path: "/catalog/:name", section: "/catalog", roles: "authenticated", render: (p) => <CatalogComponentPage name={p.name!} /> },
  { path: "/tokens", navLabel: "API tokens", section: "/tokens", roles: "authenticated", render: () => <TokensPage /> },
  { path: "/users", navLabel: "Users", section: "/users", roles: ["admin"], render: () => <UsersPage /> },
];

export const HOME = "/dashboard";
