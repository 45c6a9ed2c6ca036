// Type bytes of protocol 3 messages, by direction. The same letter means different things each way
// ('D' Describe vs DataRow, 'S' Sync vs ParameterStatus, 'E' Execute vs ErrorResponse, 'C' Close vs
// CommandComplete), hence two namespaces instead of one enum.
#pragma once

namespace pgroute::wire {

namespace frontend {  // client -> server
constexpr char kBind = 'B';
constexpr char kClose = 'C';
constexpr char kCopyData = 'd';
constexpr char kCopyDone = 'c';
constexpr char kCopyFail = 'f';
constexpr char kDescribe = 'D';
constexpr char kExecute = 'E';
constexpr char kFlush = 'H';
constexpr char kFunctionCall = 'F';
constexpr char kParse = 'P';
constexpr char kPasswordMessage = 'p';  // also GSSResponse, SASLInitialResponse, SASLResponse
constexpr char kQuery = 'Q';
constexpr char kSync = 'S';
constexpr char kTerminate = 'X';
// What a Describe or Close names (TargetMsg::kind).
constexpr char kTargetStatement = 'S';
constexpr char kTargetPortal = 'P';
}  // namespace frontend

namespace backend {  // server -> client
constexpr char kAuthentication = 'R';
constexpr char kBackendKeyData = 'K';
constexpr char kBindComplete = '2';
constexpr char kCloseComplete = '3';
constexpr char kCommandComplete = 'C';
constexpr char kCopyData = 'd';
constexpr char kCopyDone = 'c';
constexpr char kCopyInResponse = 'G';
constexpr char kCopyOutResponse = 'H';
constexpr char kCopyBothResponse = 'W';
constexpr char kDataRow = 'D';
constexpr char kEmptyQueryResponse = 'I';
constexpr char kErrorResponse = 'E';
constexpr char kFunctionCallResponse = 'V';
constexpr char kNegotiateProtocolVersion = 'v';
constexpr char kNoData = 'n';
constexpr char kNoticeResponse = 'N';
constexpr char kNotificationResponse = 'A';
constexpr char kParameterDescription = 't';
constexpr char kParameterStatus = 'S';
constexpr char kParseComplete = '1';
constexpr char kPortalSuspended = 's';
constexpr char kReadyForQuery = 'Z';
constexpr char kRowDescription = 'T';
}  // namespace backend

namespace tx_status {  // the status byte of ReadyForQuery
constexpr char kIdle = 'I';
constexpr char kInTransaction = 'T';
constexpr char kFailed = 'E';  // in a failed transaction block
}  // namespace tx_status

}  // namespace pgroute::wire
