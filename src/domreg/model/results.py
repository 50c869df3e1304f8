"""EPP result codes (RFC 5730 section 3) as one documented enum, with their standard messages."""

from __future__ import annotations

from enum import IntEnum


class Result(IntEnum):
    """Every EPP result code a domreg server can return."""

    SUCCESS = 1000
    SUCCESS_PENDING = 1001
    SUCCESS_NO_MESSAGES = 1300
    SUCCESS_ACK_TO_DEQUEUE = 1301
    SUCCESS_ENDING_SESSION = 1500

    UNKNOWN_COMMAND = 2000
    SYNTAX_ERROR = 2001
    COMMAND_USE_ERROR = 2002
    REQUIRED_PARAMETER_MISSING = 2003
    PARAMETER_VALUE_RANGE_ERROR = 2004
    PARAMETER_VALUE_SYNTAX_ERROR = 2005
    UNIMPLEMENTED_PROTOCOL_VERSION = 2100
    UNIMPLEMENTED_COMMAND = 2101
    UNIMPLEMENTED_OPTION = 2102
    UNIMPLEMENTED_EXTENSION = 2103
    BILLING_FAILURE = 2104
    OBJECT_NOT_ELIGIBLE_FOR_RENEWAL = 2105
    OBJECT_NOT_ELIGIBLE_FOR_TRANSFER = 2106
    AUTHENTICATION_ERROR = 2200
    AUTHORIZATION_ERROR = 2201
    INVALID_AUTHORIZATION_INFORMATION = 2202
    OBJECT_PENDING_TRANSFER = 2300
    OBJECT_NOT_PENDING_TRANSFER = 2301
    OBJECT_EXISTS = 2302
    OBJECT_DOES_NOT_EXIST = 2303
    OBJECT_STATUS_PROHIBITS_OPERATION = 2304
    OBJECT_ASSOCIATION_PROHIBITS_OPERATION = 2305
    PARAMETER_VALUE_POLICY_ERROR = 2306
    UNIMPLEMENTED_OBJECT_SERVICE = 2307
    DATA_MANAGEMENT_POLICY_VIOLATION = 2308
    COMMAND_FAILED = 2400
    COMMAND_FAILED_CLOSING = 2500
    AUTHENTICATION_ERROR_CLOSING = 2501
    SESSION_LIMIT_EXCEEDED_CLOSING = 2502

    @property
    def message(self) -> str:
        return MESSAGES[self]

    @property
    def closes_session(self) -> bool:
        """Codes 1500 and 25xx end the session (RFC 5730 section 3)."""
        return self == Result.SUCCESS_ENDING_SESSION or self >= 2500


MESSAGES: dict[Result, str] = {
    Result.SUCCESS: "Command completed successfully",
    Result.SUCCESS_PENDING: "Command completed successfully; action pending",
    Result.SUCCESS_NO_MESSAGES: "Command completed successfully; no messages",
    Result.SUCCESS_ACK_TO_DEQUEUE: "Command completed successfully; ack to dequeue",
    Result.SUCCESS_ENDING_SESSION: "Command completed successfully; ending session",
    Result.UNKNOWN_COMMAND: "Unknown command",
    Result.SYNTAX_ERROR: "Command syntax error",
    Result.COMMAND_USE_ERROR: "Command use error",
    Result.REQUIRED_PARAMETER_MISSING: "Required parameter missing",
    Result.PARAMETER_VALUE_RANGE_ERROR: "Parameter value range error",
    Result.PARAMETER_VALUE_SYNTAX_ERROR: "Parameter value syntax error",
    Result.UNIMPLEMENTED_PROTOCOL_VERSION: "Unimplemented protocol version",
    Result.UNIMPLEMENTED_COMMAND: "Unimplemented command",
    Result.UNIMPLEMENTED_OPTION: "Unimplemented option",
    Result.UNIMPLEMENTED_EXTENSION: "Unimplemented extension",
    Result.BILLING_FAILURE: "Billing failure",
    Result.OBJECT_NOT_ELIGIBLE_FOR_RENEWAL: "Object is not eligible for renewal",
    Result.OBJECT_NOT_ELIGIBLE_FOR_TRANSFER: "Object is not eligible for transfer",
    Result.AUTHENTICATION_ERROR: "Authentication error",
    Result.AUTHORIZATION_ERROR: "Authorization error",
    Result.INVALID_AUTHORIZATION_INFORMATION: "Invalid authorization information",
    Result.OBJECT_PENDING_TRANSFER: "Object pending transfer",
    Result.OBJECT_NOT_PENDING_TRANSFER: "Object not pending transfer",
    Result.OBJECT_EXISTS: "Object exists",
    Result.OBJECT_DOES_NOT_EXIST: "Object does not exist",
    Result.OBJECT_STATUS_PROHIBITS_OPERATION: "Object status prohibits operation",
    Result.OBJECT_ASSOCIATION_PROHIBITS_OPERATION: "Object association prohibits operation",
    Result.PARAMETER_VALUE_POLICY_ERROR: "Parameter value policy error",
    Result.UNIMPLEMENTED_OBJECT_SERVICE: "Unimplemented object service",
    Result.DATA_MANAGEMENT_POLICY_VIOLATION: "Data management policy violation",
    Result.COMMAND_FAILED: "Command failed",
    Result.COMMAND_FAILED_CLOSING: "Command failed; server closing connection",
    Result.AUTHENTICATION_ERROR_CLOSING: "Authentication error; server closing connection",
    Result.SESSION_LIMIT_EXCEEDED_CLOSING: "Session limit exceeded; server closing connection",
}
