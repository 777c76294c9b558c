/** Where the browser fetches a shared file (app/api/files). */
export const fileUrl = (id: string) => `/api/files/${id}`;
export const downloadUrl = (id: string) => `/api/files/${id}?download=1`;
export const thumbnailUrl = (id: string) => `/api/files/${id}/thumbnail`;
