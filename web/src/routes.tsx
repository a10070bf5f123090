/**
 * Every page of the console, the roles that may open it, and whether it appears in the
 * navigation. Roles mirror the API's `access` lists so nobody is shown a page that would
 * only answer 403.
 */
import type { Role } from "./api/types";
import { ArtifactDetailPage } from "./pages/ArtifactDetailPage";
import { ArtifactsPage } from "./pages/ArtifactsPage";
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
  { path: "/artifacts", navLabel: "Artifacts", section: "/artifacts", roles: "authenticated", render: () => <ArtifactsPage /> },
  {
    path: "/artifacts/:component/:version/:filename",
    section: "/artifacts",
    roles: "authenticated",
    render: (p) => <ArtifactDetailPage component={p.component!} version={p.version!} filename={p.filename!} />,
  },
  { path: "/upload", navLabel: "Upload", section: "/upload", roles: ["ci", "admin"], render: () => <UploadPage /> },
  { path: "/tokens", navLabel: "API tokens", section: "/tokens", roles: "authenticated", render: () => <TokensPage /> },
  { path: "/users", navLabel: "Users", section: "/users", roles: ["admin"], render: () => <UsersPage /> },
];

export const HOME = "/artifacts";
