import { ERRORS } from "@tus/server";
import { describe, expect, it } from "vitest";
import { AppError, notFound } from "@/lib/errors";
import { FilesHttpError, toFilesHttpError, tusRefusal } from "./errors";

const limits = { maxBytes: 4 * 1024 * 1024 };
const answer = (err: unknown) => {
  const e = toFilesHttpError(err, limits);
  return { status: e.status, ...e.body };
};

describe("files HTTP errors", () => {
  it("answers an AppError by its code", () => {
    expect(answer(notFound("There is no such file"))).toEqual({
      status: 404,
      code: "not_found",
      message: "There is no such file",
    });
    expect(answer(new AppError("too_large", "Too big"))).toMatchObject({ status: 413 });
  });

  it("keeps a FilesHttpError's own status", () => {
    const gone = tusRefusal.expired();
    expect(toFilesHttpError(gone, limits)).toBe(gone);
    expect(answer(tusRefusal.protocol(412, "Tus-Resumable Required"))).toEqual({
      status: 412,
      code: "bad_request",
      message: "Tus-Resumable Required",
    });
  });

  it("describes @tus/server's own refusals like ours", () => {
    expect(answer(ERRORS.FILE_NOT_FOUND)).toEqual({
      status: 404,
      code: "not_found",
      message: "There is no such upload",
    });
    expect(answer(ERRORS.INVALID_OFFSET)).toMatchObject({ status: 409, code: "conflict" });
    expect(answer(ERRORS.FILE_NO_LONGER_EXISTS)).toMatchObject({ status: 410, code: "not_found" });
    expect(answer(ERRORS.ERR_MAX_SIZE_EXCEEDED)).toEqual({
      status: 413,
      code: "too_large",
      message: "Files can be at most 4 MB",
    });
    expect(answer(ERRORS.MISSING_OFFSET)).toEqual({
      status: 403,
      code: "bad_request",
      message: "Upload-Offset header required",
    });
  });

  it("answers anything else as internal, or unavailable when the database is down", () => {
    expect(answer(new Error("a bug"))).toEqual({
      status: 500,
      code: "internal",
      message: "Something went wrong on our side",
    });
    const down = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(answer(down)).toMatchObject({ status: 503, code: "unavailable" });
    expect(answer("not even an error")).toMatchObject({ status: 500, code: "internal" });
  });

  it("is an Error, so a stack says where it was thrown", () => {
    expect(new FilesHttpError(404, "not_found", "x")).toBeInstanceOf(Error);
  });
});
